package org.jvisor.boot.linux;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.boot.BootException;
import org.jvisor.boot.ElfImage;
import org.jvisor.cpu.X86State;
import org.jvisor.memory.GuestMemory;

/**
 * Direct kernel boot of Linux through the 64-bit boot protocol (Documentation/arch/x86/boot.rst,
 * "64-bit Boot Protocol"): no firmware and no real-mode setup code run; we build the zero page
 * ourselves and enter the kernel in long mode, as Firecracker does.
 *
 * <p>Three ways in:
 * <ul>
 * <li>a bzImage, loaded as it is: its protected-mode part (file offset (setup_sects + 1) * 512)
 *     goes to pref_address (aligned to kernel_alignment) when the kernel is relocatable, else to
 *     1 MiB; its own decompressor runs in the guest from load + 0x200 (startup_64) and needs
 *     init_size bytes from max(load, pref_address): RAM must reach that far. (Loading a
 *     relocatable kernel below pref_address would not save memory: the 64-bit decompressor never
 *     decompresses below LOAD_PHYSICAL_ADDR, which is what pref_address holds.)</li>
 * <li>a bzImage decompressed on the host ({@code decompressOnHost}): its gzip or LZ4 payload
 *     (payload_offset/payload_length) is decoded here, as a stream at every load straight into
 *     the PT_LOAD segments' places, and the vmlinux ELF inside is booted, with
 *     the bzImage's real setup header in the zero page. This skips the guest's decompressor (and
 *     its KASLR: the kernel runs at its link address);</li>
 * <li>an ELF vmlinux (with or without the PVH note, which is not used): PT_LOAD segments go to
 *     their physical addresses and the 64-bit startup_64 at e_entry is entered with a zero page
 *     whose setup header we synthesize.</li>
 * </ul>
 *
 * <p>Guest-physical layout (all below 1 MiB is ours except the EBDA/BIOS area):
 * <pre>
 *   0x000500  GDT: 0x10 __BOOT_CS (64-bit code), 0x18 __BOOT_DS (flat data), 0x20 TSS
 *   0x007000  zero page (struct boot_params), 4 KiB
 *   0x008000  boot stack, RSP = 0x8ff0
 *   0x009000  PML4, 0xa000 PDPT, 0xb000-0xefff four page directories: [0, 4 GiB) identity, 2 MiB pages
 *   0x010000  setup_data: one node, if the caller gives one (an RNG seed), below the command line
 *   0x020000  kernel command line, NUL-terminated, at most cmdline_size bytes (and below 0x9fc00)
 *   0x09fc00  EBDA and BIOS area, reserved in e820 up to 1 MiB
 *   pref_address (16 MiB for distribution kernels) or 1 MiB: the kernel, init_size bytes
 *   initrd: the highest page-aligned place below min(initrd_addr_max + 1, end of RAM below the
 *           PCI hole) and above the kernel's end, avoiding reserved ranges
 * </pre>
 * The e820 map is usable RAM from {@link GuestMemory#ranges()} less [0x9fc00, 1 MiB) and the
 * caller's reserved ranges (ACPI tables...). The vCPU starts in 64-bit mode: CR0 PE|ET|NE|PG, CR4
 * PAE, EFER LME|LMA, CR3 the PML4, CS 0x10, DS/ES/FS/GS/SS 0x18, RFLAGS 0x2 (IF clear), RSI the
 * zero page.
 */
public final class LinuxBoot {
    public static final long GDT_ADDR = 0x500;
    public static final long ZERO_PAGE_ADDR = 0x7000;
    public static final long STACK_BOTTOM = 0x8000;
    public static final long STACK_TOP = 0x8FF0;
    public static final long PML4_ADDR = 0x9000;
    public static final long CMDLINE_ADDR = 0x20000;
    /** The setup_data node; it must end below the command line. */
    public static final long SETUP_DATA_ADDR = 0x10000;
    /** The command line must end below the EBDA (boot.rst: "anywhere between the end of the setup heap and 0xA0000"). */
    public static final long CMDLINE_LIMIT = E820Map.EBDA_START;
    /** Where a bzImage that is not relocatable (or states no pref_address) is loaded (boot.rst "Loading The Rest of The Kernel"). */
    public static final long HIGH_LOAD_ADDR = 0x100000;
    /** boot.rst "64-bit Boot Protocol": the 64-bit entry is the load address plus 0x200. */
    public static final long STARTUP_64_OFFSET = 0x200;

    /** For a vmlinux's synthesized header: the kernel's COMMAND_LINE_SIZE (2048) less the NUL. */
    public static final long VMLINUX_CMDLINE_SIZE = 2047;
    /** For a vmlinux's synthesized header: the default initrd_addr_max of 64-bit kernels. */
    public static final long VMLINUX_INITRD_ADDR_MAX = 0x7FFF_FFFFL;
    /** For a vmlinux's synthesized header: CONFIG_PHYSICAL_ALIGN's default. */
    public static final long VMLINUX_KERNEL_ALIGNMENT = 0x20_0000;

    private static final long PAGE = 0x1000;
    private static final long MIB = 1L << 20;

    private LinuxBoot() {
    }

    /**
     * Loads a Linux kernel (bzImage or ELF vmlinux), its initrd and command line into {@code ram}
     * and returns the boot vCPU's entry state and a description of what went where.
     *
     * @param initrd          the initial ramdisk, or null (an empty one counts as none)
     * @param cmdline         the kernel command line (ASCII; "" for none)
     * @param acpiRsdp        guest-physical address of the ACPI RSDP for boot_params.acpi_rsdp_addr, 0 for none
     * @param extraReserved   ranges to reserve in e820 (ACPI tables...), which nothing is loaded over
     * @param decompressOnHost for a bzImage: decode its payload here and boot the vmlinux inside
     */
    public static LinuxBootResult load(GuestMemory ram, byte[] kernelFile, byte[] initrd, String cmdline, long acpiRsdp,
                                       List<ReservedRange> extraReserved, boolean decompressOnHost) throws BootException {
        return load(ram, LinuxKernel.prepare(kernelFile, decompressOnHost), initrd, cmdline, acpiRsdp, extraReserved, null);
    }

    /**
     * As {@link #load(GuestMemory, byte[], byte[], String, long, List, boolean)} for a kernel
     * prepared once with {@link LinuxKernel#prepare}: a machine that reboots loads it again without
     * parsing or decompressing it again.
     *
     * @param setupData a node for the zero page's setup_data list (an RNG seed), or null for none
     */
    public static LinuxBootResult load(GuestMemory ram, LinuxKernel kernel, byte[] initrd, String cmdline, long acpiRsdp,
                                       List<ReservedRange> extraReserved, SetupData setupData) throws BootException {
        E820Map e820 = E820Map.build(ram, extraReserved);
        byte[] cmd = commandLineBytes(cmdline);
        requireOurs(e820, GDT_ADDR, PML4_ADDR + LongModeSetup.PAGE_TABLE_BYTES - GDT_ADDR, "jvisor's boot structures");
        requireOurs(e820, CMDLINE_ADDR, cmd.length + 1L, "the kernel command line");
        if (setupData != null) {
            if (SETUP_DATA_ADDR + setupData.size() > CMDLINE_ADDR) {
                throw new BootException(String.format("setup_data of %d bytes does not fit below the command line at %#x",
                    setupData.size(), CMDLINE_ADDR));
            }
            requireOurs(e820, SETUP_DATA_ADDR, setupData.size(), "the setup_data node");
        }
        if (acpiRsdp < 0) {
            throw new BootException(String.format("ACPI RSDP address %#x is not a physical address", acpiRsdp));
        }
        SetupHeader h = kernel.header();
        checkCmdlineSize(cmd, h != null ? h.cmdlineSize() : VMLINUX_CMDLINE_SIZE);
        Loaded k = switch (kernel.kind()) {
            case BZIMAGE -> loadBzImage(ram, e820, kernel.file(), h);
            case BZIMAGE_HOST_DECOMPRESSED, VMLINUX -> loadVmlinux(ram, e820, kernel, h);
        };

        long initrdAddr = 0;
        long initrdSize = initrd == null ? 0 : initrd.length;
        if (initrdSize > 0) {
            initrdAddr = placeInitrd(e820, k.kernelEnd, initrdSize, k.initrdAddrMax);
            ram.write(initrdAddr, initrd);
        }

        ram.write(CMDLINE_ADDR, cmd);
        ram.writeU8(CMDLINE_ADDR + cmd.length, (byte) 0);
        BootParams params = k.params.loader(k.kernelStart).cmdline(CMDLINE_ADDR).ramdisk(initrdAddr, initrdSize).e820(e820);
        if (acpiRsdp != 0) {
            params.acpiRsdp(acpiRsdp);
        }
        if (setupData != null) {
            // below 1 MiB, which the kernel's decompressor never writes and the kernel keeps reserved
            // (arch/x86/kernel/setup.c: the first megabyte; setup_data ranges are reserved too)
            ram.write(SETUP_DATA_ADDR, setupData.bytes());
            params.setupData(SETUP_DATA_ADDR);
        }
        ram.write(ZERO_PAGE_ADDR, params.bytes());
        LongModeSetup.writeGdt(ram, GDT_ADDR);
        ram.fill(STACK_BOTTOM, PML4_ADDR - STACK_BOTTOM, (byte) 0);
        LongModeSetup.writeIdentityMap(ram, PML4_ADDR);
        X86State st = LongModeSetup.entryState(k.entry, ZERO_PAGE_ADDR, STACK_TOP, GDT_ADDR, PML4_ADDR);

        String description = describe(k, cmd, initrdAddr, initrdSize, acpiRsdp, setupData, e820);
        return new LinuxBootResult(st, k.kind, k.header, k.payloadFormat, k.kernelStart, k.kernelEnd, k.entry,
            ZERO_PAGE_ADDR, CMDLINE_ADDR, cmd.length, initrdAddr, initrdSize, e820, k.decompressNanos, description);
    }

    /** A loaded kernel: where it is, where to enter it and the zero page that goes with it. */
    private record Loaded(LinuxBootResult.Kind kind, SetupHeader header, PayloadDecompressor.Format payloadFormat,
                          int payloadSize, long vmlinuxSize, long kernelStart, long kernelEnd, long entry,
                          long initrdAddrMax, BootParams params, long decompressNanos, boolean pvhNote) {
    }

    // ---- bzImage as it is ------------------------------------------------------------------

    private static Loaded loadBzImage(GuestMemory ram, E820Map e820, byte[] file, SetupHeader h) throws BootException {
        if (h.protectedModeSize() > h.initSize()) {
            throw new BootException(String.format(
                "kernel: the protected-mode part (%d bytes) is larger than init_size (%d bytes)", h.protectedModeSize(), h.initSize()));
        }
        long load = loadAddress(h);
        long runtime = runtimeStart(h, load);
        long end = Math.max(load + h.protectedModeSize(), runtime + h.initSize());
        if (!e820.isUsable(load, h.protectedModeSize()) || !e820.isUsable(runtime, h.initSize())) {
            throw new BootException(String.format(
                "kernel needs at least %d MiB of RAM: it is loaded at %#x and decompresses itself at %#x, "
                    + "needing init_size %#x (%d MiB) there; this guest has %d MiB%s",
                ceilMib(end), load, runtime, h.initSize(), ceilMib(h.initSize()), ram.size() >> 20,
                reservedNote(e820, Math.min(load, runtime), end - Math.min(load, runtime))));
        }
        ram.write(load, file, h.protectedModeOffset(), (int) h.protectedModeSize());
        return new Loaded(LinuxBootResult.Kind.BZIMAGE, h, null, 0, 0, load, end, load + STARTUP_64_OFFSET,
            h.initrdAddrMax(), BootParams.forKernel(h), 0, false);
    }

    /**
     * Where the protected-mode part goes: pref_address (rounded up to kernel_alignment) for a
     * relocatable kernel that states one, else 1 MiB (boot.rst "Loading The Rest of The Kernel").
     * Loading a relocatable kernel lower would save nothing: see {@link #runtimeStart}.
     */
    static long loadAddress(SetupHeader h) {
        if (h.relocatable()) {
            return alignUp(h.prefAddress() != 0 ? h.prefAddress() : HIGH_LOAD_ADDR, h.kernelAlignment());
        }
        return HIGH_LOAD_ADDR;
    }

    /**
     * Where the kernel decompresses itself and runs, needing init_size bytes from there (boot.rst
     * "init_size": align_up(load, kernel_alignment) if relocatable, else pref_address). The 64-bit
     * decompressor (arch/x86/boot/compressed/head_64.S, startup_64) also never goes below
     * LOAD_PHYSICAL_ADDR, which the header publishes as pref_address.
     */
    static long runtimeStart(SetupHeader h, long load) {
        if (h.relocatable()) {
            return Math.max(alignUp(load, h.kernelAlignment()), h.prefAddress());
        }
        return h.prefAddress() != 0 ? h.prefAddress() : load;
    }

    // ---- vmlinux ------------------------------------------------------------------------------

    private static Loaded loadVmlinux(GuestMemory ram, E820Map e820, LinuxKernel kernel, SetupHeader h) throws BootException {
        ElfImage elf = kernel.elf();
        byte[] file = kernel.elfBytes();
        String what = h == null ? "kernel (vmlinux)" : "kernel payload (decompressed vmlinux)";
        long start = Long.MAX_VALUE;
        long end = 0;
        for (ElfImage.Segment s : elf.segments()) {
            if (s.memSize() == 0) {
                continue;
            }
            start = Math.min(start, s.physAddr());
            end = Math.max(end, s.physAddr() + s.memSize());
        }
        if (end == 0) {
            throw new BootException(what + ": every PT_LOAD segment is empty");
        }
        for (ElfImage.Segment s : elf.segments()) {
            if (s.memSize() == 0) {
                continue;
            }
            if (s.physAddr() < HIGH_LOAD_ADDR) {
                throw new BootException(String.format(
                    "%s: segment at %#x lies below 1 MiB, where jvisor keeps the zero page and boot structures", what, s.physAddr()));
            }
            if (!e820.isUsable(s.physAddr(), s.memSize())) {
                throw new BootException(String.format(
                    "%s: segment [%#x, %#x) is not in usable RAM: the kernel needs at least %d MiB of RAM; this guest has %d MiB%s",
                    what, s.physAddr(), s.physAddr() + s.memSize(), ceilMib(end), ram.size() >> 20,
                    reservedNote(e820, s.physAddr(), s.memSize())));
            }
        }
        long decompressNanos = 0;
        if (file != null) {
            for (ElfImage.Segment s : elf.segments()) {
                if (s.memSize() == 0) {
                    continue;
                }
                ram.write(s.physAddr(), file, (int) s.fileOffset(), (int) s.fileSize());
                ram.fill(s.physAddr() + s.fileSize(), s.memSize() - s.fileSize(), (byte) 0);
            }
        } else {
            // Streamed out of the bzImage's payload into RAM, segment bytes as they pass by: the
            // decompressed vmlinux is never held whole. The .bss goes after, like the array path's last writes.
            SegmentWriter writer = new SegmentWriter(ram, elf.segments());
            decompressNanos = kernel.streamVmlinux(writer);
            writer.zeroFillBss();
        }
        long entry = physicalEntry(elf, what);
        BootParams params = h != null
            ? BootParams.forKernel(h)
            : BootParams.synthesized(VMLINUX_KERNEL_ALIGNMENT, VMLINUX_CMDLINE_SIZE, VMLINUX_INITRD_ADDR_MAX);
        LinuxBootResult.Kind kind = h != null ? LinuxBootResult.Kind.BZIMAGE_HOST_DECOMPRESSED : LinuxBootResult.Kind.VMLINUX;
        int payloadSize = h != null ? (int) h.payloadLength() : 0;
        return new Loaded(kind, h, kernel.payloadFormat(), payloadSize, kernel.vmlinuxSize(), start, end, entry,
            h != null ? h.initrdAddrMax() : VMLINUX_INITRD_ADDR_MAX, params, decompressNanos, elf.hasPvhNote());
    }

    /**
     * The physical address of e_entry. e_entry may be virtual (converted through the PT_LOAD that
     * contains it: phys = e_entry - p_vaddr + p_paddr) or already physical (x86-64 vmlinux links
     * its entry as phys_startup_64), in which case some segment's physical range contains it.
     */
    static long physicalEntry(ElfImage elf, String what) throws BootException {
        long e = elf.entry();
        for (ElfImage.Segment s : elf.segments()) {
            if (Long.compareUnsigned(e - s.virtAddr(), s.memSize()) < 0) {
                return e - s.virtAddr() + s.physAddr();
            }
        }
        for (ElfImage.Segment s : elf.segments()) {
            if (Long.compareUnsigned(e - s.physAddr(), s.memSize()) < 0) {
                return e;
            }
        }
        throw new BootException(String.format("%s: entry point %#x lies in no PT_LOAD segment", what, e));
    }

    // ---- initrd, command line ------------------------------------------------------------------

    /**
     * The highest page-aligned address for {@code size} bytes of initrd ending at or below
     * min(initrd_addr_max + 1, 4 GiB) in usable RAM above {@code kernelEnd} (boot.rst
     * "initrd_addr_max"; Firecracker and QEMU also load it as high as allowed).
     */
    static long placeInitrd(E820Map e820, long kernelEnd, long size, long initrdAddrMax) throws BootException {
        long limit = Math.min(initrdAddrMax + 1, LongModeSetup.IDENTITY_MAPPED);
        long floor = alignUp(kernelEnd, PAGE);
        long largest = 0;
        List<E820Map.Entry> entries = e820.entries();
        for (int i = entries.size() - 1; i >= 0; i--) {
            E820Map.Entry e = entries.get(i);
            if (e.type() != E820Map.Type.RAM || e.addr() >= limit || e.end() <= floor) {
                continue;
            }
            long top = Math.min(e.end(), limit);
            long bottom = Math.max(alignUp(e.addr(), PAGE), floor);
            largest = Math.max(largest, top - bottom);
            long addr = alignDown(top - size, PAGE);
            if (top - size >= bottom && addr >= bottom) {
                return addr;
            }
        }
        throw new BootException(String.format(
            "initrd of %d bytes (%d MiB) does not fit: it must lie in RAM between the kernel's end %#x and %#x "
                + "(initrd_addr_max %#x, RAM below the PCI hole), where the largest free stretch is %d bytes (%d MiB)",
            size, ceilMib(size), floor, limit, initrdAddrMax, largest, largest >> 20));
    }

    private static byte[] commandLineBytes(String cmdline) throws BootException {
        String s = cmdline == null ? "" : cmdline;
        int nul = s.indexOf('\0');
        if (nul >= 0) {
            throw new BootException("kernel command line contains a NUL character at position " + nul);
        }
        byte[] cmd = s.getBytes(StandardCharsets.UTF_8);
        long room = CMDLINE_LIMIT - CMDLINE_ADDR - 1;
        if (cmd.length > room) {
            throw new BootException(String.format(
                "kernel command line is %d bytes; jvisor has room for %d below the EBDA", cmd.length, room));
        }
        return cmd;
    }

    private static void checkCmdlineSize(byte[] cmd, long cmdlineSize) throws BootException {
        if (cmd.length > cmdlineSize) {
            throw new BootException(String.format(
                "kernel command line is %d bytes; this kernel accepts at most %d (cmdline_size)", cmd.length, cmdlineSize));
        }
    }

    private static void requireOurs(E820Map e820, long addr, long size, String what) throws BootException {
        if (!e820.isUsable(addr, size)) {
            throw new BootException(String.format("%s at [%#x, %#x) would not be in usable RAM%s",
                what, addr, addr + size, reservedNote(e820, addr, size)));
        }
    }

    private static String reservedNote(E820Map e820, long addr, long size) {
        List<E820Map.Entry> hits = e820.reservedOverlapping(addr, size);
        return hits.isEmpty() ? "" : " (overlaps reserved " + hits + ")";
    }

    // ---- description ---------------------------------------------------------------------------

    private static String describe(Loaded k, byte[] cmd, long initrdAddr, long initrdSize, long acpiRsdp, SetupData setupData,
                                   E820Map e820) {
        StringBuilder sb = new StringBuilder();
        switch (k.kind) {
            case BZIMAGE -> sb.append(String.format("Linux bzImage, boot protocol %s, decompressed by the guest",
                k.header.versionString()));
            case BZIMAGE_HOST_DECOMPRESSED -> sb.append(String.format(
                "Linux bzImage, boot protocol %s, %s payload of %.1f MiB decompressed on the host into RAM (a %.1f MiB vmlinux) in %d ms",
                k.header.versionString(), k.payloadFormat.label, k.payloadSize / (double) MIB, k.vmlinuxSize / (double) MIB,
                k.decompressNanos / 1_000_000));
            case VMLINUX -> sb.append("Linux vmlinux (ELF64").append(k.pvhNote ? ", PVH note not used" : "").append(")");
        }
        sb.append(String.format("%n  kernel [%#x, %#x), 64-bit entry (startup_64) at %#x", k.kernelStart, k.kernelEnd, k.entry));
        sb.append(String.format("%n  zero page %#x, GDT %#x, page tables %#x, command line %#x (%d bytes): %s",
            ZERO_PAGE_ADDR, GDT_ADDR, PML4_ADDR, CMDLINE_ADDR, cmd.length, new String(cmd, StandardCharsets.UTF_8)));
        if (initrdSize > 0) {
            sb.append(String.format("%n  initrd [%#x, %#x), %d bytes", initrdAddr, initrdAddr + initrdSize, initrdSize));
        } else {
            sb.append(String.format("%n  no initrd"));
        }
        if (acpiRsdp != 0) {
            sb.append(String.format("%n  ACPI RSDP at %#x", acpiRsdp));
        }
        if (setupData != null) {
            sb.append(String.format("%n  setup_data at %#x: type %d, %d bytes%s", SETUP_DATA_ADDR, setupData.type(),
                setupData.data().length, setupData.type() == SetupData.SETUP_RNG_SEED ? " (RNG seed)" : ""));
        }
        for (E820Map.Entry e : e820.entries()) {
            sb.append("\n  e820 ").append(e);
        }
        return sb.toString();
    }

    private static long alignUp(long v, long a) {
        return (v + a - 1) & -a;
    }

    private static long alignDown(long v, long a) {
        return v & -a;
    }

    private static long ceilMib(long bytes) {
        return (bytes + MIB - 1) >> 20;
    }
}
