/**
 * tcg: jvisor's software x86-64 CPU: an interpreter, and a translator that compiles the hot
 * parts of guest code into JVM bytecode (hidden classes the JIT then compiles to host code).
 *
 * <h2>Pieces (one job each)</h2>
 * <ul>
 *   <li>{@link org.jvisor.tcg.Decoder} turns bytes into an {@link org.jvisor.tcg.Insn} (prefixes,
 *       REX, ModRM/SIB, RIP-relative, 0F/0F38/0F3A maps, 16/32/64-bit modes) and picks a fast-path
 *       handler for the commonest 64-bit forms.</li>
 *   <li>{@code CodeCache} keeps decoded instructions per 4 KiB page of guest RAM; pages holding
 *       code are marked, and any write to them (stores, A/D updates, {@code invalidateCode} for DMA)
 *       drops that page's instructions (self-modifying code). Machines sharing a library share
 *       the index of pages with equal bytes ({@code DecodedPages}).</li>
 *   <li>{@code Mmu}: 4-level (and PAE/32-bit) paging with A/D, NX, WP, U/S, global pages, 4K/2M/1G
 *       pages, exact #PF error codes, behind a direct-mapped soft TLB with separate read, write and
 *       fetch entries; non-RAM goes to the MMIO address space.</li>
 *   <li>{@code LazyFlags}: CF/PF/AF/ZF/SF/OF computed only when read.</li>
 *   <li>{@code Interpreter} (integer instructions), {@code StringOps}, {@code SystemOps} (CRs,
 *       MSRs via {@code Msrs}, descriptor tables, far transfers, IRET, SYSCALL/SYSRET,
 *       SYSENTER/SYSEXIT, CPUID), {@code SseUnit} (MMX/SSE/SSE2, FXSAVE/FXRSTOR) on
 *       {@code SimdFloat} (IEEE arithmetic under MXCSR: rounding control, DAZ/FTZ, exception
 *       flags), {@code X87Unit} on {@code Float80} (the x87 FPU in double-extended precision, #MF), {@code Exceptions} (IDT delivery, IST,
 *       TSS stack switch, #DF and triple fault).</li>
 *   <li>{@link org.jvisor.tcg.TcgCpu} ties them together on a caller-owned
 *       {@link org.jvisor.cpu.X86State}; {@link org.jvisor.tcg.TcgVcpu} and
 *       {@link org.jvisor.tcg.TcgAccelerator} implement the engine-neutral contract.</li>
 * </ul>
 *
 * <h2>Seams for the platform</h2>
 * {@link org.jvisor.tcg.InterruptSource} (pending external vector, INTA, NMI, wake-up) and
 * {@link org.jvisor.tcg.LocalApicPort} (LAPIC MSRs such as IA32_APIC_BASE and the x2APIC range, CR8);
 * {@link org.jvisor.tcg.TcgAccelerator#setLocalApicPresent} adds CPUID.1:EDX.APIC.
 *
 * <h2>System properties</h2>
 * {@code jvisor.tcg.logUnimp=true} logs each unimplemented instruction (RIP, bytes) once;
 * {@code jvisor.tcg.debugHalt=true} dumps a vCPU that has waited in HLT for 5 s.
 */
package org.jvisor.tcg;
