package org.jvisor.kvm;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * Checks every layout and ioctl number in {@link KvmStructs}/{@link KvmIoctl} against the kernel's
 * headers: a C program compiled here prints sizeof/offsetof and the _IO* macros' values.
 */
class KvmStructsTest {
    private static final Map<String, Long> C = new HashMap<>();

    private static final String PROGRAM = """
        #include <stdio.h>
        #include <stddef.h>
        #include <linux/kvm.h>
        #define SZ(t) printf(#t " %zu\\n", sizeof(struct t))
        #define OFF(t, f) printf(#t "." #f " %zu\\n", offsetof(struct t, f))
        #define IOC(n) printf(#n " %lu\\n", (unsigned long)(n))
        int main(void) {
            SZ(kvm_regs); SZ(kvm_segment); SZ(kvm_dtable); SZ(kvm_sregs); SZ(kvm_fpu);
            SZ(kvm_userspace_memory_region); SZ(kvm_cpuid_entry2); SZ(kvm_cpuid2); SZ(kvm_msr_entry);
            SZ(kvm_msrs); SZ(kvm_irq_level); SZ(kvm_irqfd); SZ(kvm_ioeventfd); SZ(kvm_pit_config); SZ(kvm_msi);
            SZ(kvm_signal_mask); SZ(kvm_irq_routing_entry); SZ(kvm_irq_routing);
            SZ(kvm_dirty_log); SZ(kvm_clear_dirty_log); SZ(kvm_enable_cap);
            OFF(kvm_dirty_log, dirty_bitmap); OFF(kvm_clear_dirty_log, num_pages); OFF(kvm_clear_dirty_log, first_page);
            OFF(kvm_clear_dirty_log, dirty_bitmap); OFF(kvm_enable_cap, args);
            IOC(KVM_GET_DIRTY_LOG); IOC(KVM_CLEAR_DIRTY_LOG); IOC(KVM_GET_MSR_INDEX_LIST); SZ(kvm_msr_list); IOC(KVM_ENABLE_CAP); IOC(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
            IOC(KVM_MEM_LOG_DIRTY_PAGES); IOC(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE);
            OFF(kvm_pic_state, last_irr); OFF(kvm_pic_state, irr); OFF(kvm_pic_state, imr); OFF(kvm_pic_state, isr);
            OFF(kvm_pic_state, priority_add); OFF(kvm_pic_state, irq_base); OFF(kvm_pic_state, read_reg_select);
            OFF(kvm_pic_state, poll); OFF(kvm_pic_state, special_mask); OFF(kvm_pic_state, init_state);
            OFF(kvm_pic_state, auto_eoi); OFF(kvm_pic_state, rotate_on_auto_eoi);
            OFF(kvm_pic_state, special_fully_nested_mode); OFF(kvm_pic_state, init4); OFF(kvm_pic_state, elcr);
            OFF(kvm_pic_state, elcr_mask); OFF(kvm_ioapic_state, base_address); OFF(kvm_ioapic_state, ioregsel);
            OFF(kvm_ioapic_state, id); OFF(kvm_ioapic_state, irr); OFF(kvm_ioapic_state, redirtbl);
            OFF(kvm_pit_channel_state, count); OFF(kvm_pit_channel_state, latched_count);
            OFF(kvm_pit_channel_state, count_latched); OFF(kvm_pit_channel_state, status_latched);
            OFF(kvm_pit_channel_state, status); OFF(kvm_pit_channel_state, read_state);
            OFF(kvm_pit_channel_state, write_state); OFF(kvm_pit_channel_state, write_latch);
            OFF(kvm_pit_channel_state, rw_mode); OFF(kvm_pit_channel_state, bcd); OFF(kvm_pit_channel_state, gate);
            OFF(kvm_vcpu_events, interrupt.soft); IOC(KVM_VCPUEVENT_VALID_SHADOW); IOC(KVM_X86_SHADOW_INT_STI);
            IOC(KVM_MP_STATE_RUNNABLE); IOC(KVM_MP_STATE_INIT_RECEIVED); IOC(KVM_PIT_FLAGS_SPEAKER_DATA_ON);
            OFF(kvm_irq_routing_entry, gsi); OFF(kvm_irq_routing_entry, type); OFF(kvm_irq_routing_entry, u);
            OFF(kvm_irq_routing_entry, u.msi.address_lo); OFF(kvm_irq_routing_entry, u.msi.address_hi);
            OFF(kvm_irq_routing_entry, u.msi.data); OFF(kvm_irq_routing_entry, u.irqchip.irqchip);
            OFF(kvm_irq_routing_entry, u.irqchip.pin); OFF(kvm_irq_routing, entries);
            IOC(KVM_IRQ_ROUTING_IRQCHIP); IOC(KVM_IRQ_ROUTING_MSI); IOC(KVM_IRQCHIP_PIC_MASTER);
            IOC(KVM_IRQCHIP_PIC_SLAVE); IOC(KVM_IRQCHIP_IOAPIC); IOC(KVM_IOAPIC_NUM_PINS);
            OFF(kvm_run, exit_reason); OFF(kvm_run, immediate_exit); OFF(kvm_run, cr8); OFF(kvm_run, apic_base);
            OFF(kvm_run, io); OFF(kvm_run, mmio); OFF(kvm_run, system_event); OFF(kvm_run, internal);
            OFF(kvm_run, fail_entry);
            printf("kvm_run.io.size %zu\\n", offsetof(struct kvm_run, io.size) - offsetof(struct kvm_run, io));
            printf("kvm_run.io.port %zu\\n", offsetof(struct kvm_run, io.port) - offsetof(struct kvm_run, io));
            printf("kvm_run.io.count %zu\\n", offsetof(struct kvm_run, io.count) - offsetof(struct kvm_run, io));
            printf("kvm_run.io.data_offset %zu\\n", offsetof(struct kvm_run, io.data_offset) - offsetof(struct kvm_run, io));
            printf("kvm_run.mmio.data %zu\\n", offsetof(struct kvm_run, mmio.data) - offsetof(struct kvm_run, mmio));
            printf("kvm_run.mmio.len %zu\\n", offsetof(struct kvm_run, mmio.len) - offsetof(struct kvm_run, mmio));
            printf("kvm_run.mmio.is_write %zu\\n", offsetof(struct kvm_run, mmio.is_write) - offsetof(struct kvm_run, mmio));
            printf("kvm_run.internal.ndata %zu\\n", offsetof(struct kvm_run, internal.ndata) - offsetof(struct kvm_run, internal));
            printf("kvm_run.internal.data %zu\\n", offsetof(struct kvm_run, internal.data) - offsetof(struct kvm_run, internal));
            OFF(kvm_sregs, gdt); OFF(kvm_sregs, cr0); OFF(kvm_sregs, efer); OFF(kvm_sregs, interrupt_bitmap);
            OFF(kvm_fpu, xmm); OFF(kvm_fpu, mxcsr); OFF(kvm_fpu, last_ip);
            OFF(kvm_ioeventfd, fd); OFF(kvm_ioeventfd, flags); OFF(kvm_ioeventfd, datamatch); OFF(kvm_ioeventfd, addr);
            OFF(kvm_ioeventfd, len);
            IOC(KVM_IOEVENTFD_FLAG_DATAMATCH); IOC(KVM_IOEVENTFD_FLAG_PIO); IOC(KVM_IOEVENTFD_FLAG_DEASSIGN);
            IOC(KVM_GET_API_VERSION); IOC(KVM_CREATE_VM); IOC(KVM_CHECK_EXTENSION); IOC(KVM_GET_VCPU_MMAP_SIZE);
            IOC(KVM_GET_SUPPORTED_CPUID); IOC(KVM_CREATE_VCPU); IOC(KVM_SET_USER_MEMORY_REGION);
            IOC(KVM_SET_TSS_ADDR); IOC(KVM_SET_IDENTITY_MAP_ADDR); IOC(KVM_CREATE_IRQCHIP); IOC(KVM_IRQ_LINE);
            IOC(KVM_IRQFD); IOC(KVM_CREATE_PIT2); IOC(KVM_IOEVENTFD); IOC(KVM_RUN); IOC(KVM_GET_REGS);
            IOC(KVM_SET_REGS); IOC(KVM_GET_SREGS); IOC(KVM_SET_SREGS); IOC(KVM_GET_MSRS); IOC(KVM_SET_MSRS);
            IOC(KVM_SET_SIGNAL_MASK); IOC(KVM_SET_GSI_ROUTING); IOC(KVM_GET_FPU); IOC(KVM_SET_FPU); IOC(KVM_SET_CPUID2); IOC(KVM_SIGNAL_MSI); IOC(KVM_SET_MP_STATE);
            IOC(KVM_EXIT_IO); IOC(KVM_EXIT_MMIO); IOC(KVM_EXIT_HLT); IOC(KVM_EXIT_SHUTDOWN); IOC(KVM_EXIT_FAIL_ENTRY);
            IOC(KVM_EXIT_INTR); IOC(KVM_EXIT_INTERNAL_ERROR); IOC(KVM_EXIT_SYSTEM_EVENT);
            IOC(KVM_CAP_IMMEDIATE_EXIT); IOC(KVM_CAP_PIT2); IOC(KVM_CAP_IRQFD); IOC(KVM_CAP_IOEVENTFD);
            IOC(KVM_CAP_SET_IDENTITY_MAP_ADDR); IOC(KVM_CAP_MAX_VCPUS); IOC(KVM_CAP_SIGNAL_MSI);
            IOC(KVM_GET_IRQCHIP); IOC(KVM_SET_IRQCHIP); IOC(KVM_SET_CLOCK); IOC(KVM_GET_CLOCK); IOC(KVM_GET_LAPIC);
            IOC(KVM_SET_LAPIC); IOC(KVM_GET_MP_STATE); IOC(KVM_GET_PIT2); IOC(KVM_SET_PIT2); IOC(KVM_GET_VCPU_EVENTS);
            IOC(KVM_SET_VCPU_EVENTS); IOC(KVM_GET_DEBUGREGS); IOC(KVM_SET_DEBUGREGS); IOC(KVM_GET_XSAVE);
            IOC(KVM_SET_XSAVE); IOC(KVM_GET_XCRS); IOC(KVM_SET_XCRS);
            SZ(kvm_xsave); SZ(kvm_xcrs); SZ(kvm_debugregs); SZ(kvm_vcpu_events); SZ(kvm_lapic_state); SZ(kvm_irqchip);
            SZ(kvm_pit_state2); SZ(kvm_clock_data); SZ(kvm_pit_channel_state); OFF(kvm_irqchip, chip);
            OFF(kvm_pit_state2, flags); OFF(kvm_pit_channel_state, mode); OFF(kvm_xcrs, nr_xcrs); OFF(kvm_xcrs, xcrs);
            OFF(kvm_debugregs, dr6); OFF(kvm_debugregs, dr7);
            OFF(kvm_vcpu_events, exception.injected); OFF(kvm_vcpu_events, exception.nr);
            OFF(kvm_vcpu_events, exception.has_error_code); OFF(kvm_vcpu_events, exception.pending);
            OFF(kvm_vcpu_events, exception.error_code); OFF(kvm_vcpu_events, interrupt.injected);
            OFF(kvm_vcpu_events, interrupt.nr); OFF(kvm_vcpu_events, interrupt.shadow);
            OFF(kvm_vcpu_events, nmi.injected); OFF(kvm_vcpu_events, nmi.pending); OFF(kvm_vcpu_events, nmi.masked);
            OFF(kvm_vcpu_events, flags); IOC(KVM_MP_STATE_SIPI_RECEIVED); IOC(KVM_MP_STATE_HALTED);
            return 0;
        }
        """;

    @BeforeAll
    static void compileAndRun(@TempDir Path dir) throws IOException, InterruptedException {
        Path src = dir.resolve("sizes.c");
        Files.writeString(src, PROGRAM);
        Path exe = dir.resolve("sizes");
        Process cc = new ProcessBuilder("gcc", "-o", exe.toString(), src.toString()).redirectErrorStream(true).start();
        String ccOut = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, cc.waitFor(), "gcc failed:\n" + ccOut);
        Process run = new ProcessBuilder(exe.toString()).start();
        String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, run.waitFor());
        for (String line : out.split("\n")) {
            String[] kv = line.trim().split(" ");
            C.put(kv[0], Long.parseLong(kv[1]));
        }
    }

    private static long c(String name) {
        Long v = C.get(name);
        assertNotNull(v, "C program printed no " + name);
        return v;
    }

    private static void size(String name, StructLayout l) {
        assertEquals(c(name), l.byteSize(), "sizeof(struct " + name + ")");
    }

    private static long off(StructLayout l, String... path) {
        MemoryLayout.PathElement[] p = new MemoryLayout.PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            p[i] = MemoryLayout.PathElement.groupElement(path[i]);
        }
        return l.byteOffset(p);
    }

    @Test
    void structSizesMatchTheKernelHeaders() {
        size("kvm_regs", KvmStructs.KVM_REGS);
        size("kvm_segment", KvmStructs.KVM_SEGMENT);
        size("kvm_dtable", KvmStructs.KVM_DTABLE);
        size("kvm_sregs", KvmStructs.KVM_SREGS);
        size("kvm_fpu", KvmStructs.KVM_FPU);
        size("kvm_userspace_memory_region", KvmStructs.KVM_USERSPACE_MEMORY_REGION);
        size("kvm_cpuid_entry2", KvmStructs.KVM_CPUID_ENTRY2);
        size("kvm_cpuid2", KvmStructs.KVM_CPUID2);
        size("kvm_msr_entry", KvmStructs.KVM_MSR_ENTRY);
        size("kvm_msrs", KvmStructs.KVM_MSRS);
        size("kvm_irq_level", KvmStructs.KVM_IRQ_LEVEL);
        size("kvm_irqfd", KvmStructs.KVM_IRQFD);
        size("kvm_ioeventfd", KvmStructs.KVM_IOEVENTFD);
        size("kvm_pit_config", KvmStructs.KVM_PIT_CONFIG);
        size("kvm_msi", KvmStructs.KVM_MSI);
        size("kvm_signal_mask", KvmStructs.KVM_SIGNAL_MASK);
        size("kvm_irq_routing_entry", KvmStructs.KVM_IRQ_ROUTING_ENTRY);
        size("kvm_irq_routing", KvmStructs.KVM_IRQ_ROUTING);
        size("kvm_dirty_log", KvmStructs.KVM_DIRTY_LOG);
        size("kvm_clear_dirty_log", KvmStructs.KVM_CLEAR_DIRTY_LOG);
        size("kvm_enable_cap", KvmStructs.KVM_ENABLE_CAP);
        size("kvm_msr_list", KvmStructs.KVM_MSR_LIST);
    }

    /** The fields a snapshot crossing engines converts (org.jvisor.machine.KvmControllerConversion and friends). */
    @Test
    void controllerFieldOffsetsMatchTheKernelHeaders() {
        String[] pic = {"last_irr", "irr", "imr", "isr", "priority_add", "irq_base", "read_reg_select", "poll",
            "special_mask", "init_state", "auto_eoi", "rotate_on_auto_eoi", "special_fully_nested_mode", "init4", "elcr",
            "elcr_mask"};
        int[] picAt = {KvmStructs.PIC_LAST_IRR, KvmStructs.PIC_IRR, KvmStructs.PIC_IMR, KvmStructs.PIC_ISR,
            KvmStructs.PIC_PRIORITY_ADD, KvmStructs.PIC_IRQ_BASE, KvmStructs.PIC_READ_REG_SELECT, KvmStructs.PIC_POLL,
            KvmStructs.PIC_SPECIAL_MASK, KvmStructs.PIC_INIT_STATE, KvmStructs.PIC_AUTO_EOI,
            KvmStructs.PIC_ROTATE_ON_AUTO_EOI, KvmStructs.PIC_SPECIAL_FULLY_NESTED, KvmStructs.PIC_INIT4,
            KvmStructs.PIC_ELCR, KvmStructs.PIC_ELCR_MASK};
        for (int i = 0; i < pic.length; i++) {
            assertEquals(c("kvm_pic_state." + pic[i]), picAt[i], pic[i]);
        }
        assertEquals(c("kvm_ioapic_state.base_address"), KvmStructs.IOAPIC_BASE_ADDRESS);
        assertEquals(c("kvm_ioapic_state.ioregsel"), KvmStructs.IOAPIC_IOREGSEL);
        assertEquals(c("kvm_ioapic_state.id"), KvmStructs.IOAPIC_ID);
        assertEquals(c("kvm_ioapic_state.irr"), KvmStructs.IOAPIC_IRR);
        assertEquals(c("kvm_ioapic_state.redirtbl"), KvmStructs.IOAPIC_REDIRTBL);
        String[] pit = {"count", "latched_count", "count_latched", "status_latched", "status", "read_state",
            "write_state", "write_latch", "rw_mode", "mode", "bcd", "gate"};
        int[] pitAt = {KvmStructs.PIT_COUNT, KvmStructs.PIT_LATCHED_COUNT, KvmStructs.PIT_COUNT_LATCHED,
            KvmStructs.PIT_STATUS_LATCHED, KvmStructs.PIT_STATUS, KvmStructs.PIT_READ_STATE, KvmStructs.PIT_WRITE_STATE,
            KvmStructs.PIT_WRITE_LATCH, KvmStructs.PIT_RW_MODE, KvmStructs.PIT_MODE, KvmStructs.PIT_BCD,
            KvmStructs.PIT_GATE};
        for (int i = 0; i < pit.length; i++) {
            assertEquals(c("kvm_pit_channel_state." + pit[i]), pitAt[i], pit[i]);
        }
        assertEquals(c("kvm_pit_channel_state"), KvmStructs.PIT_CHANNEL_BYTES);
        assertEquals(c("kvm_pit_state2.flags"), KvmStructs.PIT_FLAGS);
        assertEquals(c("kvm_debugregs.dr6"), KvmStructs.DEBUGREGS_DR6);
        assertEquals(c("kvm_debugregs.dr7"), KvmStructs.DEBUGREGS_DR7);
        assertEquals(c("kvm_xcrs.nr_xcrs"), KvmStructs.XCRS_NR);
        assertEquals(c("kvm_xcrs.xcrs"), KvmStructs.XCRS_FIRST);
        assertEquals(c("kvm_vcpu_events.interrupt.shadow"), KvmStructs.EVENTS_INTERRUPT_SHADOW);
        assertEquals(c("kvm_vcpu_events.nmi.masked"), KvmStructs.EVENTS_NMI_MASKED);
        assertEquals(c("kvm_vcpu_events.nmi.pending"), KvmStructs.EVENTS_NMI_PENDING);
        assertEquals(c("kvm_vcpu_events.flags"), KvmStructs.EVENTS_FLAGS);
        assertEquals(c("KVM_VCPUEVENT_VALID_SHADOW"), KvmStructs.EVENTS_VALID_SHADOW);
        assertEquals(c("KVM_X86_SHADOW_INT_STI"), KvmStructs.SHADOW_INT_STI);
        assertEquals(c("KVM_MP_STATE_RUNNABLE"), KvmStructs.MP_STATE_RUNNABLE);
        assertEquals(c("KVM_MP_STATE_INIT_RECEIVED"), KvmStructs.MP_STATE_INIT_RECEIVED);
        assertEquals(c("KVM_MP_STATE_HALTED"), KvmStructs.MP_STATE_HALTED);
        assertEquals(c("KVM_PIT_FLAGS_SPEAKER_DATA_ON"), 2);
    }

    @Test
    void dirtyLogLayoutsMatchTheKernelHeaders() {
        assertEquals(c("kvm_dirty_log.dirty_bitmap"), off(KvmStructs.KVM_DIRTY_LOG, "dirty_bitmap"));
        assertEquals(c("kvm_clear_dirty_log.num_pages"), off(KvmStructs.KVM_CLEAR_DIRTY_LOG, "num_pages"));
        assertEquals(c("kvm_clear_dirty_log.first_page"), off(KvmStructs.KVM_CLEAR_DIRTY_LOG, "first_page"));
        assertEquals(c("kvm_clear_dirty_log.dirty_bitmap"), off(KvmStructs.KVM_CLEAR_DIRTY_LOG, "dirty_bitmap"));
        assertEquals(c("kvm_enable_cap.args"), off(KvmStructs.KVM_ENABLE_CAP, "args"));
        assertEquals(c("KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2"), KvmSystem.CAP_MANUAL_DIRTY_LOG_PROTECT2);
        assertEquals(c("KVM_MEM_LOG_DIRTY_PAGES"), KvmDirtyLog.MEM_LOG_DIRTY_PAGES);
        assertEquals(c("KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE"), KvmDirtyLog.MANUAL_PROTECT_ENABLE);
    }

    @Test
    void fieldOffsetsMatchTheKernelHeaders() {
        assertEquals(c("kvm_run.exit_reason"), off(KvmStructs.KVM_RUN, "exit_reason"));
        assertEquals(c("kvm_run.immediate_exit"), off(KvmStructs.KVM_RUN, "immediate_exit"));
        assertEquals(c("kvm_run.cr8"), off(KvmStructs.KVM_RUN, "cr8"));
        assertEquals(c("kvm_run.apic_base"), off(KvmStructs.KVM_RUN, "apic_base"));
        assertEquals(c("kvm_run.io"), KvmStructs.RUN_EXIT);
        assertEquals(c("kvm_run.mmio"), KvmStructs.RUN_EXIT);
        assertEquals(c("kvm_run.system_event"), KvmStructs.RUN_EXIT);
        assertEquals(c("kvm_run.internal"), KvmStructs.RUN_EXIT);
        assertEquals(c("kvm_run.fail_entry"), KvmStructs.RUN_EXIT);
        assertEquals(c("kvm_run.io.size"), off(KvmStructs.KVM_RUN_IO, "size"));
        assertEquals(c("kvm_run.io.port"), off(KvmStructs.KVM_RUN_IO, "port"));
        assertEquals(c("kvm_run.io.count"), off(KvmStructs.KVM_RUN_IO, "count"));
        assertEquals(c("kvm_run.io.data_offset"), off(KvmStructs.KVM_RUN_IO, "data_offset"));
        assertEquals(c("kvm_run.mmio.data"), off(KvmStructs.KVM_RUN_MMIO, "data"));
        assertEquals(c("kvm_run.mmio.len"), off(KvmStructs.KVM_RUN_MMIO, "len"));
        assertEquals(c("kvm_run.mmio.is_write"), off(KvmStructs.KVM_RUN_MMIO, "is_write"));
        assertEquals(4, c("kvm_run.internal.ndata"));
        assertEquals(8, c("kvm_run.internal.data"));
        assertEquals(c("kvm_sregs.gdt"), off(KvmStructs.KVM_SREGS, "gdt"));
        assertEquals(c("kvm_sregs.cr0"), off(KvmStructs.KVM_SREGS, "cr0"));
        assertEquals(c("kvm_sregs.efer"), off(KvmStructs.KVM_SREGS, "efer"));
        assertEquals(c("kvm_sregs.interrupt_bitmap"), off(KvmStructs.KVM_SREGS, "interrupt_bitmap"));
        assertEquals(c("kvm_fpu.xmm"), off(KvmStructs.KVM_FPU, "xmm"));
        assertEquals(c("kvm_fpu.mxcsr"), off(KvmStructs.KVM_FPU, "mxcsr"));
        assertEquals(c("kvm_fpu.last_ip"), off(KvmStructs.KVM_FPU, "last_ip"));
        assertEquals(c("kvm_ioeventfd.fd"), off(KvmStructs.KVM_IOEVENTFD, "fd"));
        assertEquals(c("kvm_ioeventfd.flags"), off(KvmStructs.KVM_IOEVENTFD, "flags"));
        assertEquals(c("kvm_ioeventfd.datamatch"), off(KvmStructs.KVM_IOEVENTFD, "datamatch"));
        assertEquals(c("kvm_ioeventfd.addr"), off(KvmStructs.KVM_IOEVENTFD, "addr"));
        assertEquals(c("kvm_ioeventfd.len"), off(KvmStructs.KVM_IOEVENTFD, "len"));
        long u = off(KvmStructs.KVM_IRQ_ROUTING_ENTRY, "u");
        assertEquals(c("kvm_irq_routing_entry.gsi"), off(KvmStructs.KVM_IRQ_ROUTING_ENTRY, "gsi"));
        assertEquals(c("kvm_irq_routing_entry.type"), off(KvmStructs.KVM_IRQ_ROUTING_ENTRY, "type"));
        assertEquals(c("kvm_irq_routing_entry.u"), u);
        // MsiRoutes writes the union's fields at these offsets from u
        assertEquals(c("kvm_irq_routing_entry.u.msi.address_lo"), u);
        assertEquals(c("kvm_irq_routing_entry.u.msi.address_hi"), u + 4);
        assertEquals(c("kvm_irq_routing_entry.u.msi.data"), u + 8);
        assertEquals(c("kvm_irq_routing_entry.u.irqchip.irqchip"), u);
        assertEquals(c("kvm_irq_routing_entry.u.irqchip.pin"), u + 4);
        assertEquals(c("kvm_irq_routing.entries"), KvmStructs.KVM_IRQ_ROUTING.byteSize());
    }

    /** The state structs a snapshot moves whole, and the fields jvisor reads in them. */
    @Test
    void snapshotStructSizesAndOffsetsMatch() {
        assertEquals(c("kvm_xsave"), KvmStructs.KVM_XSAVE_BYTES);
        assertEquals(c("kvm_xcrs"), KvmStructs.KVM_XCRS_BYTES);
        assertEquals(c("kvm_debugregs"), KvmStructs.KVM_DEBUGREGS_BYTES);
        assertEquals(c("kvm_vcpu_events"), KvmStructs.KVM_VCPU_EVENTS_BYTES);
        assertEquals(c("kvm_lapic_state"), KvmStructs.KVM_LAPIC_STATE_BYTES);
        assertEquals(c("kvm_irqchip"), KvmStructs.KVM_IRQCHIP_BYTES);
        assertEquals(c("kvm_irqchip.chip"), KvmStructs.KVM_IRQCHIP_CHIP);
        assertEquals(c("kvm_irqchip") - c("kvm_irqchip.chip"), KvmStructs.KVM_IRQCHIP_CHIP_BYTES);
        assertEquals(c("kvm_pit_state2"), KvmStructs.KVM_PIT_STATE2_BYTES);
        assertEquals(c("kvm_clock_data"), KvmStructs.KVM_CLOCK_DATA_BYTES);
        assertEquals(24, c("kvm_pit_channel_state"));
        assertEquals(13, c("kvm_pit_channel_state.mode"));
        assertEquals(c("kvm_pit_state2.flags"), KvmPitState.FLAGS_AT);
        assertEquals(c("kvm_xcrs.nr_xcrs"), KvmVcpuState.XCRS_NR);
        assertEquals(8, c("kvm_xcrs.xcrs"));
        assertEquals(32, c("kvm_debugregs.dr6"));
        assertEquals(40, c("kvm_debugregs.dr7"));
        assertEquals(c("kvm_vcpu_events.exception.injected"), KvmVcpuState.EV_EXCEPTION_INJECTED);
        assertEquals(c("kvm_vcpu_events.exception.nr"), KvmVcpuState.EV_EXCEPTION_NR);
        assertEquals(c("kvm_vcpu_events.exception.has_error_code"), KvmVcpuState.EV_EXCEPTION_HAS_ERROR);
        assertEquals(c("kvm_vcpu_events.exception.pending"), KvmVcpuState.EV_EXCEPTION_PENDING);
        assertEquals(c("kvm_vcpu_events.exception.error_code"), KvmVcpuState.EV_ERROR_CODE);
        assertEquals(c("kvm_vcpu_events.interrupt.injected"), KvmVcpuState.EV_INTERRUPT_INJECTED);
        assertEquals(c("kvm_vcpu_events.interrupt.nr"), KvmVcpuState.EV_INTERRUPT_NR);
        assertEquals(c("kvm_vcpu_events.interrupt.shadow"), KvmVcpuState.EV_INTERRUPT_SHADOW);
        assertEquals(c("kvm_vcpu_events.nmi.injected"), KvmVcpuState.EV_NMI_INJECTED);
        assertEquals(c("kvm_vcpu_events.nmi.pending"), KvmVcpuState.EV_NMI_PENDING);
        assertEquals(c("kvm_vcpu_events.nmi.masked"), KvmVcpuState.EV_NMI_MASKED);
        assertEquals(c("kvm_vcpu_events.flags"), KvmVcpuState.EV_FLAGS);
        assertEquals(c("KVM_MP_STATE_SIPI_RECEIVED"), KvmVcpuState.MP_STATE_MAX);
        assertEquals(c("KVM_MP_STATE_HALTED"), KvmVcpu.MP_STATE_HALTED);
    }

    @Test
    void ioctlNumbersMatchTheKernelMacros() {
        for (KvmIoctl i : KvmIoctl.values()) {
            assertEquals(c("KVM_" + i.name()), i.request(), "KVM_" + i.name());
        }
    }

    @Test
    void exitReasonAndCapabilityNumbersMatch() {
        assertEquals(c("KVM_EXIT_IO"), KvmExitReason.IO.code);
        assertEquals(c("KVM_EXIT_MMIO"), KvmExitReason.MMIO.code);
        assertEquals(c("KVM_EXIT_HLT"), KvmExitReason.HLT.code);
        assertEquals(c("KVM_EXIT_SHUTDOWN"), KvmExitReason.SHUTDOWN.code);
        assertEquals(c("KVM_EXIT_FAIL_ENTRY"), KvmExitReason.FAIL_ENTRY.code);
        assertEquals(c("KVM_EXIT_INTR"), KvmExitReason.INTR.code);
        assertEquals(c("KVM_EXIT_INTERNAL_ERROR"), KvmExitReason.INTERNAL_ERROR.code);
        assertEquals(c("KVM_EXIT_SYSTEM_EVENT"), KvmExitReason.SYSTEM_EVENT.code);
        assertEquals(c("KVM_CAP_IMMEDIATE_EXIT"), KvmSystem.CAP_IMMEDIATE_EXIT);
        assertEquals(c("KVM_CAP_PIT2"), KvmSystem.CAP_PIT2);
        assertEquals(c("KVM_CAP_IRQFD"), KvmSystem.CAP_IRQFD);
        assertEquals(c("KVM_CAP_IOEVENTFD"), KvmSystem.CAP_IOEVENTFD);
        assertEquals(c("KVM_CAP_SET_IDENTITY_MAP_ADDR"), KvmSystem.CAP_SET_IDENTITY_MAP_ADDR);
        assertEquals(c("KVM_CAP_MAX_VCPUS"), KvmSystem.CAP_MAX_VCPUS);
        assertEquals(c("KVM_CAP_SIGNAL_MSI"), KvmSystem.CAP_SIGNAL_MSI);
        assertEquals(c("KVM_IOEVENTFD_FLAG_DATAMATCH"), KvmVm.IOEVENTFD_FLAG_DATAMATCH);
        assertEquals(c("KVM_IRQ_ROUTING_IRQCHIP"), MsiRoutes.ROUTING_IRQCHIP);
        assertEquals(c("KVM_IRQ_ROUTING_MSI"), MsiRoutes.ROUTING_MSI);
        assertEquals(c("KVM_IRQCHIP_PIC_MASTER"), MsiRoutes.IRQCHIP_PIC_MASTER);
        assertEquals(c("KVM_IRQCHIP_PIC_SLAVE"), MsiRoutes.IRQCHIP_PIC_SLAVE);
        assertEquals(c("KVM_IRQCHIP_IOAPIC"), MsiRoutes.IRQCHIP_IOAPIC);
        assertEquals(c("KVM_IOAPIC_NUM_PINS"), MsiRoutes.IOAPIC_PINS);
        assertEquals(c("KVM_IOEVENTFD_FLAG_PIO"), KvmVm.IOEVENTFD_FLAG_PIO);
        assertEquals(c("KVM_IOEVENTFD_FLAG_DEASSIGN"), KvmVm.IOEVENTFD_FLAG_DEASSIGN);
    }
}
