/*
 * A minimal KVM VMM in C, the baseline for bench/kvm-exits.sh: it runs a jvisor test guest (ELF64,
 * entered in long mode with the same page tables and GDT as org.jvisor.boot.TestGuestBoot) and
 * does the least possible work per port exit. Port 0xf4 ends it with status (v << 1) | 1, like
 * isa-debug-exit; every other port is unclaimed (reads all-ones, writes dropped).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MEM_SIZE (128UL << 20)

static void die(const char *what) {
    fprintf(stderr, "kvm-exit-loop: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int code) {
    memset(s, 0, sizeof(*s));
    s->selector = sel;
    s->limit = 0xffffffff;
    s->type = type;
    s->present = 1;
    s->s = 1;
    s->l = code;
    s->db = !code;
    s->g = 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: kvm-exit-loop GUEST.elf\n");
        return 2;
    }
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) die("KVM_CREATE_VM");
    if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) die("KVM_SET_TSS_ADDR");
    if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) die("KVM_CREATE_IRQCHIP");
    /* The same platform as jvisor's: in-kernel PIT too. */
    struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
    if (ioctl(vm, KVM_CREATE_PIT2, &pit) < 0) die("KVM_CREATE_PIT2");
    uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) die("mmap");
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE, .userspace_addr = (uintptr_t)mem};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");

    /* Load the ELF's PT_LOAD segments. */
    int f = open(argv[1], O_RDONLY);
    if (f < 0) die(argv[1]);
    struct stat st;
    fstat(f, &st);
    uint8_t *img = malloc(st.st_size);
    if (read(f, img, st.st_size) != st.st_size) die("read");
    Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
    for (int i = 0; i < eh->e_phnum; i++) {
        Elf64_Phdr *ph = (Elf64_Phdr *)(img + eh->e_phoff + i * eh->e_phentsize);
        if (ph->p_type != PT_LOAD) continue;
        memcpy(mem + ph->p_paddr, img + ph->p_offset, ph->p_filesz);
        memset(mem + ph->p_paddr + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
    }

    /* Identity map 4 GiB with 2 MiB pages; GDT: null, code64, data, as jvisor does. */
    uint64_t *pml4 = (uint64_t *)(mem + 0x1000), *pdpt = (uint64_t *)(mem + 0x2000);
    pml4[0] = 0x2000 | 3;
    for (uint64_t g = 0; g < 4; g++) {
        uint64_t *pd = (uint64_t *)(mem + 0x3000 + g * 0x1000);
        pdpt[g] = (0x3000 + g * 0x1000) | 3;
        for (uint64_t e = 0; e < 512; e++) pd[e] = (g << 30) | (e << 21) | 0x83;
    }
    uint64_t *gdt = (uint64_t *)(mem + 0x500);
    gdt[0] = 0;
    gdt[1] = 0x00af9b000000ffffUL;
    gdt[2] = 0x00cf93000000ffffUL;

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) die("KVM_CREATE_VCPU");
    /* The CPUID KVM supports, as jvisor sets it (KVM behaves differently without one). */
    int nent = 256;
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(struct kvm_cpuid_entry2));
    cpuid->nent = nent;
    if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");
    if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0) die("KVM_SET_CPUID2");
    int runsz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, runsz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) die("mmap kvm_run");

    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
    seg(&sregs.cs, 0x08, 0xb, 1);
    seg(&sregs.ds, 0x10, 0x3, 0);
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
    sregs.gdt.base = 0x500;
    sregs.gdt.limit = 0x17;
    sregs.cr3 = 0x1000;
    sregs.cr4 = 0x20 | 0x600;
    /* A 64-bit busy TSS, as jvisor loads (VMX wants a usable TR). */
    sregs.tr.base = 0;
    sregs.tr.limit = 0x67;
    sregs.tr.selector = 0x18;
    sregs.tr.type = 11;
    sregs.tr.present = 1;
    sregs.tr.s = 0;
    sregs.cr0 = 0x80010033;
    sregs.efer = 0x500;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
    struct kvm_regs regs = {.rip = eh->e_entry, .rsp = 0x80000, .rflags = 2};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");

    unsigned long exits = 0;
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR) continue;
            die("KVM_RUN");
        }
        exits++;
        switch (run->exit_reason) {
        case KVM_EXIT_IO: {
            uint8_t *data = (uint8_t *)run + run->io.data_offset;
            if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == 0xf4) {
                uint32_t v = 0;
                memcpy(&v, data, run->io.size);
                fprintf(stderr, "kvm-exit-loop: %lu exits\n", exits);
                return ((v << 1) | 1) & 0xff;
            }
            if (run->io.direction == KVM_EXIT_IO_IN)
                memset(data, 0xff, (size_t)run->io.size * run->io.count);
            break;
        }
        case KVM_EXIT_MMIO:
            if (!run->mmio.is_write) memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
            break;
        default:
            fprintf(stderr, "kvm-exit-loop: unexpected exit %u\n", run->exit_reason);
            return 1;
        }
    }
}
