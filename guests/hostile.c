/*
 * hostile: a guest that pokes at every device register it can reach with random values (issue 16).
 * Sweeps the whole 64 KiB port space three times, reading and writing random widths and values;
 * writes random dwords, words and bytes to the configuration space of every PCI function above
 * the BARs (command, capabilities, MSI and MSI-X control, device-specific registers); fills the
 * IOAPIC's registers and the LAPIC's writable ones with random values; on microvm, sweeps the
 * virtio-mmio windows (see sweep_virtio_mmio). Spared, because a real
 * machine would end or stall this program there by design: COM1 (this output), the debug-exit
 * port, the reset ports (0x64 commands, port 0x92, 0xCF9), the ACPI PM block (sleep), PCI BARs
 * (one over this program's RAM would replace its code), the ICR (an INIT would park this vCPU)
 * and delivery through LVT and redirection entries (kept masked: an NMI or INIT needs a guest
 * that expects it). Exceptions and interrupts are counted by handlers. Nothing is asserted about
 * the values: the test is that the VMM is still there, running this vCPU, at the end.
 */
#include "lib.h"

static uint64_t rng = 0x9E3779B97F4A7C15UL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static volatile uint64_t events;

static void count_event(struct frame *f)
{
    (void)f;
    events++;
}

static bool spared_port(uint32_t port, uint32_t size)
{
    static const uint32_t ranges[][2] = {
        {0x3F8, 0x400},  /* COM1: this program's output */
        {0xF4, 0xF8},    /* isa-debug-exit */
        {0x64, 0x65},    /* i8042 commands (0xFE resets) */
        {0x92, 0x93},    /* port A: fast reset */
        {0xCF8, 0xD00},  /* PCI configuration (swept below) and the reset control register */
        {0x600, 0x640},  /* ACPI PM: SLP_EN powers off */
    };
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        if (port < ranges[i][1] && port + size > ranges[i][0]) {
            return true;
        }
    }
    return false;
}

static void sweep_ports(void)
{
    uint64_t done = 0;
    for (int pass = 0; pass < 3; pass++) {
        for (uint32_t port = 0; port < 0x10000; port++) {
            uint64_t r = next();
            uint32_t size = 1u << (r & 3) % 3;
            if (port + size > 0x10000 || spared_port(port, size)) {
                continue;
            }
            uint32_t v = (uint32_t)(r >> 32);
            if (r & 4) {
                switch (size) {
                case 1: outb(port, v); break;
                case 2: outw(port, v); break;
                default: outl(port, v); break;
                }
            } else {
                switch (size) {
                case 1: (void)inb(port); break;
                case 2: (void)inw(port); break;
                default: (void)inl(port); break;
                }
            }
            done++;
        }
    }
    printf("hostile: %lu port accesses\n", done);
}

static void sweep_pci(void)
{
    uint64_t done = 0;
    for (uint32_t dev = 0; dev < 32; dev++) {
        for (uint32_t fn = 0; fn < 8; fn++) {
            uint32_t base = 0x80000000u | dev << 11 | fn << 8;
            for (int i = 0; i < 64; i++) {
                uint64_t r = next();
                /* the command register (0x04) and everything from 0x3C on: never the BARs */
                uint32_t reg = (r & 1) ? 0x04 : 0x3C + ((r >> 1) % 0x31) * 4;
                outl(0xCF8, base | reg);
                uint32_t v = (uint32_t)(r >> 32);
                switch ((r >> 8) % 4) {
                case 0: outl(0xCFC, v); break;
                case 1: outw(0xCFC + (r >> 16 & 2), v); break;
                case 2: outb(0xCFC + (r >> 16 & 3), v); break;
                default: (void)inl(0xCFC); break;
                }
                done++;
            }
        }
    }
    printf("hostile: %lu PCI configuration accesses\n", done);
}

static void sweep_apics(void)
{
    volatile uint32_t *ioapic = (volatile uint32_t *)0xFEC00000UL;
    for (int i = 0; i < 4096; i++) {
        uint64_t r = next();
        uint32_t sel = (r & 0xFF);
        uint32_t v = (uint32_t)(r >> 32);
        if (sel >= 0x10 && (sel & 1) == 0) {
            v |= 1u << 16; /* a redirection entry's low half: masked */
        }
        ioapic[0] = sel;
        if (r & 0x100) {
            ioapic[4] = v;
        } else {
            (void)ioapic[4];
        }
        if (r & 0x200) { /* and sometimes the EOI register, or a stray offset in the window */
            ioapic[(0x40 + ((r >> 10) & 0x3F) * 16) / 4] = v;
        }
    }
    volatile uint32_t *lapic = (volatile uint32_t *)0xFEE00000UL;
    for (int i = 0; i < 4096; i++) {
        uint64_t r = next();
        uint32_t off = 0x20 + (r % 0x3E) * 16;
        uint32_t v = (uint32_t)(r >> 32);
        if (off == 0x300 || off == 0x310) {
            continue; /* the ICR */
        }
        if (off == 0x2F0 || (off >= 0x320 && off <= 0x370)) {
            v |= 1u << 16; /* LVT entries: masked */
        }
        if (r & 0x100) {
            lapic[off / 4] = v;
        } else {
            (void)lapic[off / 4];
        }
    }
    printf("hostile: IOAPIC and LAPIC registers written\n");
}

/*
 * microvm's virtio-mmio windows (0xFEB00000, 0x200 each, eight slots) and what follows them: random
 * reads and writes of 1, 2, 4 and 8 bytes at random offsets of every slot, assigned or empty
 * (virtio 1.2, 4.2.2: the registers take aligned 32-bit accesses; any other is the device's to
 * refuse). Spared: DRIVER_OK in the Status register, which would start the device on rings at
 * random addresses, so it could write over this program (a guest may ruin itself; the rings are
 * virtioattack's subject). Skipped where the first window holds no virtio magic (the pc run).
 */
#define VIRTIO_MMIO_BASE 0xFEB00000UL
#define VIRTIO_MMIO_WINDOW 0x200
#define VIRTIO_MMIO_SLOTS 8
#define VIRTIO_MMIO_STATUS 0x70

static void sweep_virtio_mmio(void)
{
    volatile uint32_t *magic = (volatile uint32_t *)VIRTIO_MMIO_BASE;
    if (*magic != 0x74726976) { /* "virt" */
        printf("hostile: no virtio-mmio windows\n");
        return;
    }
    unsigned long done = 0;
    for (int pass = 0; pass < 8; pass++) {
        for (int slot = 0; slot <= VIRTIO_MMIO_SLOTS; slot++) { /* one window past the last */
            uint64_t window = VIRTIO_MMIO_BASE + (uint64_t)slot * VIRTIO_MMIO_WINDOW;
            for (int i = 0; i < 512; i++) {
                uint64_t r = next();
                unsigned width = 1u << (r & 3);
                uint32_t off = (uint32_t)(r >> 8) % VIRTIO_MMIO_WINDOW & ~(width - 1);
                uint64_t a = window + off;
                uint64_t v = next();
                if (off <= VIRTIO_MMIO_STATUS && off + width > VIRTIO_MMIO_STATUS)
                    v &= ~(4UL << (8 * (VIRTIO_MMIO_STATUS - off))); /* never DRIVER_OK */
                if (r & 4) {
                    switch (width) {
                    case 1: *(volatile uint8_t *)a = (uint8_t)v; break;
                    case 2: *(volatile uint16_t *)a = (uint16_t)v; break;
                    case 4: *(volatile uint32_t *)a = (uint32_t)v; break;
                    default: *(volatile uint64_t *)a = v; break;
                    }
                } else {
                    switch (width) {
                    case 1: (void)*(volatile uint8_t *)a; break;
                    case 2: (void)*(volatile uint16_t *)a; break;
                    case 4: (void)*(volatile uint32_t *)a; break;
                    default: (void)*(volatile uint64_t *)a; break;
                    }
                }
                done++;
            }
        }
    }
    printf("hostile: %lu virtio-mmio accesses\n", done);
}

int main(void)
{
    idt_init();
    for (int v = 0; v < 256; v++) {
        set_handler(v, count_event);
    }
    printf("hostile: sweeping\n");
    /* Between stages the guest waits for a byte on COM1 (whose receive side the sweeps spare): the
     * test sends one once the monitor has answered a question asked after the stage just printed,
     * so "the monitor answers after each stage" holds however fast the sweeps run. */
    await_host("hostile");
    sweep_ports();
    await_host("hostile");
    sweep_pci();
    await_host("hostile");
    sweep_apics();
    await_host("hostile");
    sweep_virtio_mmio();
    await_host("hostile");
    sweep_ports();
    printf("hostile: survived (%lu exceptions or interrupts taken)\n", (unsigned long)events);
    pass();
}
