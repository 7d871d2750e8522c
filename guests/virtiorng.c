/*
 * virtiorng: a virtio-rng-pci device driven from scratch (virtio 1.2, 4.1 and 2.7).
 * Asserts: PCI configuration mechanism #1 finds 1af4:1044 (or QEMU's transitional 1af4:1005) on bus 0; its capability list holds the
 * virtio common, notify, ISR and device configuration capabilities, all in one memory BAR that the
 * VMM (or firmware) placed; the device resets to status 0, offers VIRTIO_F_VERSION_1 and accepts it
 * (FEATURES_OK reads back); queue 0 takes a size-8 split ring in guest RAM; REQUESTS requests of
 * BUF bytes each come back through the used ring with the id posted and len = BUF, filled with
 * entropy (not all zeros, and not the same as the previous request's). Then the guest moves the BAR
 * to MOVED_BAR (decoding off while it changes, as a driver or firmware does) and runs REQUESTS more
 * requests through the new notify address. Last, MSI-X vector 0 (to the local APIC, vector 0x40) is
 * given to queue 0 and REQUESTS more requests each wait in HLT for their interrupt: exactly one per
 * request. Before that phase interrupts stay off and the used ring is polled.
 * Without PCI (-M microvm) it finds the entropy device on a virtio-mmio v2 window instead and runs
 * REQUESTS polled requests through QueueNotify. Under -trace exits the notify writes show up as
 * MMIO exits of the BAR unless the engine turns them into doorbells (kvm: ioeventfd).
 */
#ifndef REQUESTS
#define REQUESTS 1000
#endif
#define BUF 64
#define QSIZE 8
#define MOVED_BAR 0x80000000UL /* free on jvisor's and QEMU's pc with 256 MiB: above RAM, below the 32-bit window */
#define POLL_LIMIT 20000000UL

#include "virtio_pci.h"

static struct virtq_desc desc[QSIZE] __attribute__((aligned(16)));
static struct virtq_avail avail __attribute__((aligned(2)));
static struct virtq_used used __attribute__((aligned(4)));
static uint8_t buf[QSIZE][BUF];

static struct vpci v;
static int dev;
static int bar_index = -1;
static uint16_t notify_off;
static uint16_t last_used;
static int use_irq;
static uint64_t notify_addr, status_addr;
static int notify_width;

static volatile unsigned irqs;

static void on_irq(struct frame *f)
{
    (void)f;
    irqs++;
    mmio_write32(LAPIC + LAPIC_EOI, 0);
}

/* MSI-X vector 0 of the device -> IRQ_VECTOR on the boot CPU (APIC ID 0, fixed, edge); queue 0 uses it. */
static void enable_msix(uint64_t base)
{
    int p = pci_read8(dev, PCI_CAP_PTR) & 0xFC;
    for (int n = 0; p != 0 && pci_read8(dev, p) != PCI_CAP_MSIX && n < 48; n++)
        p = pci_read8(dev, p + 1) & 0xFC;
    if (p == 0 || pci_read8(dev, p) != PCI_CAP_MSIX)
        fail("no MSI-X capability");
    uint32_t table = pci_read32(dev, p + 4);
    int bir = table & 7;
    uint64_t tbase = vpci_bar(dev, bir);
    CHECK(tbase != 0);
    map_gib(tbase);
    uint64_t entry = tbase + (table & ~7u);
    mmio_write32(entry + 0, (uint32_t)LAPIC);  /* destination APIC ID 0, physical */
    mmio_write32(entry + 4, 0);
    mmio_write32(entry + 8, IRQ_VECTOR);      /* fixed delivery, edge */
    mmio_write32(entry + 12, 0);              /* unmasked */
    pci_write16(dev, p + 2, pci_read16(dev, p + 2) | MSIX_ENABLE);
    uint64_t c = base + v.common.offset;
    mmio_write16(c + COMMON_CONFIG_MSIX_VECTOR, VIRTIO_MSI_NO_VECTOR);
    mmio_write16(c + COMMON_QUEUE_SELECT, 0);
    mmio_write16(c + COMMON_QUEUE_MSIX_VECTOR, 0);
    CHECK_EQ(mmio_read16(c + COMMON_QUEUE_MSIX_VECTOR), 0);

    idt_init();
    set_handler(IRQ_VECTOR, on_irq);
    /* Firmware (SeaBIOS under QEMU) leaves the 8259s at vectors 8-15 with the PIT ticking: mask them. */
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
    mmio_write32(LAPIC + LAPIC_SVR, 0x1FF); /* APIC software enable, spurious vector 0xFF */
}

static int find_device(void)
{
    return vpci_find(0x10441AF4, 0x10051AF4); /* modern, or QEMU's transitional default */
}

static void walk_capabilities(void)
{
    v.dev = dev;
    int seen = vpci_walk(&v);
    CHECK((seen & 0x0E) == 0x0E); /* common, notify and ISR are required; virtio-rng has no device configuration */
    CHECK(v.common.bar == v.notify.bar && v.common.bar == v.isr.bar);
    CHECK(v.common.length >= 0x38);
    bar_index = v.common.bar;
    printf("virtiorng: capabilities: common, notify (multiplier %u) and ISR in BAR %d\n",
           v.notify_multiplier, bar_index);
}

static uint64_t bar_address(void)
{
    return vpci_bar(dev, bar_index);
}

static void set_status(uint64_t base, uint8_t s) { mmio_write8(base + v.common.offset + COMMON_DEVICE_STATUS, s); }
static uint8_t get_status(uint64_t base) { return mmio_read8(base + v.common.offset + COMMON_DEVICE_STATUS); }

static void setup(uint64_t base)
{
    uint64_t c = base + v.common.offset;
    set_status(base, 0);
    CHECK_EQ(get_status(base), 0);
    set_status(base, STATUS_ACKNOWLEDGE);
    set_status(base, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    mmio_write32(c + COMMON_DEVICE_FEATURE_SELECT, 1);
    uint32_t hi = mmio_read32(c + COMMON_DEVICE_FEATURE);
    CHECK(hi & 1); /* VIRTIO_F_VERSION_1 is bit 32 */
    mmio_write32(c + COMMON_DRIVER_FEATURE_SELECT, 0);
    mmio_write32(c + COMMON_DRIVER_FEATURE, 0);
    mmio_write32(c + COMMON_DRIVER_FEATURE_SELECT, 1);
    mmio_write32(c + COMMON_DRIVER_FEATURE, 1);
    set_status(base, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    CHECK(get_status(base) & STATUS_FEATURES_OK);
    CHECK(mmio_read16(c + COMMON_NUM_QUEUES) >= 1);

    mmio_write16(c + COMMON_QUEUE_SELECT, 0);
    uint16_t max = mmio_read16(c + COMMON_QUEUE_SIZE);
    CHECK(max >= QSIZE);
    mmio_write16(c + COMMON_QUEUE_SIZE, QSIZE);
    memset(desc, 0, sizeof desc);
    memset(&avail, 0, sizeof avail);
    memset(&used, 0, sizeof used);
    last_used = 0;
    mmio_write64(c + COMMON_QUEUE_DESC, (uint64_t)desc);
    mmio_write64(c + COMMON_QUEUE_DRIVER, (uint64_t)&avail);
    mmio_write64(c + COMMON_QUEUE_DEVICE, (uint64_t)&used);
    notify_off = mmio_read16(c + COMMON_QUEUE_NOTIFY_OFF);
    mmio_write16(c + COMMON_QUEUE_ENABLE, 1);
    CHECK_EQ(mmio_read16(c + COMMON_QUEUE_ENABLE), 1);
    set_status(base, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    CHECK_EQ(get_status(base), STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    printf("virtiorng: device ready, queue 0 size %d of %u, notify_off %u\n", QSIZE, max, notify_off);
}

/* One request: a device-writable buffer of BUF bytes in descriptor (n % QSIZE). */
static void request(unsigned n)
{
    unsigned d = n % QSIZE;
    memset(buf[d], 0, BUF);
    desc[d].addr = (uint64_t)buf[d];
    desc[d].len = BUF;
    desc[d].flags = VIRTQ_DESC_F_WRITE;
    desc[d].next = 0;
    avail.ring[avail.idx % QSIZE] = (uint16_t)d;
    barrier();
    avail.idx++;
    barrier();
    unsigned irqs_before = irqs;
    if (notify_width == 2)
        mmio_write16(notify_addr, 0);
    else
        mmio_write32(notify_addr, 0);
    unsigned long spins = 0;
    if (use_irq) {
        /* STI's one-instruction shadow covers HLT: an interrupt already pending wakes it. */
        while (irqs == irqs_before) {
            if (++spins == POLL_LIMIT / 1000)
                failf("request %u: no interrupt after %lu waits (device status %#x)", n, spins, mmio_read8(status_addr));
            __asm__ volatile("sti; hlt; cli" : : : "memory");
        }
        CHECK_EQ(irqs, irqs_before + 1);
    }
    while (*(volatile uint16_t *)&used.idx == last_used) {
        if (++spins == POLL_LIMIT)
            failf("request %u: no used buffer after %lu polls (device status %#x)", n, spins, mmio_read8(status_addr));
        __asm__ volatile("pause");
    }
    barrier();
    struct virtq_used_elem e = used.ring[last_used % QSIZE];
    last_used++;
    CHECK_EQ(*(volatile uint16_t *)&used.idx, last_used);
    CHECK_EQ(e.id, d);
    CHECK_EQ(e.len, BUF);
    int zero = 1;
    for (int i = 0; i < BUF; i++)
        zero &= buf[d][i] == 0;
    if (zero)
        failf("request %u: the device returned %d zero bytes", n, BUF);
    unsigned prev = (d + QSIZE - 1) % QSIZE;
    if (n > 0 && memcmp(buf[d], buf[prev], BUF) == 0)
        failf("request %u: the same %d bytes as the previous request", n, BUF);
}

/* Queue 0's notify address of the PCI transport at base (4.1.4.4). */
static void use_pci_at(uint64_t base)
{
    notify_addr = base + v.notify.offset + (uint64_t)notify_off * v.notify_multiplier;
    notify_width = 2; /* 16-bit write of the queue index (4.1.5.2) */
    status_addr = base + v.common.offset + COMMON_DEVICE_STATUS;
}

static void run(const char *where)
{
    for (unsigned n = 0; n < REQUESTS; n++)
        request(n);
    printf("virtiorng: %u requests of %d bytes of entropy %s\n", REQUESTS, BUF, where);
}

/* virtio-mmio v2 (4.2.2) */
#define MMIO_FIRST 0xFEB00000UL /* the windows of jvisor's (and QEMU's) microvm, 512 bytes apart */
#define MMIO_WINDOWS 8
#define MMIO_MAGIC 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_READY 0x044
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESC 0x080
#define MMIO_QUEUE_DRIVER 0x090
#define MMIO_QUEUE_DEVICE 0x0a0

static uint64_t find_mmio(void)
{
    for (int i = 0; i < MMIO_WINDOWS; i++) {
        uint64_t w = MMIO_FIRST + 0x200UL * i;
        if (mmio_read32(w + MMIO_MAGIC) == 0x74726976 && mmio_read32(w + MMIO_DEVICE_ID) == 4)
            return w;
    }
    return 0;
}

/* The same requests through a virtio-mmio window (microvm): polled, QueueNotify is a 32-bit write. */
static int mmio_main(uint64_t w)
{
    printf("virtiorng: virtio-mmio version %u device 4 at %#lx\n", mmio_read32(w + MMIO_VERSION), w);
    CHECK_EQ(mmio_read32(w + MMIO_VERSION), 2);
    mmio_write32(w + MMIO_STATUS, 0);
    CHECK_EQ(mmio_read32(w + MMIO_STATUS), 0);
    mmio_write32(w + MMIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    mmio_write32(w + MMIO_DEVICE_FEATURES_SEL, 1);
    CHECK(mmio_read32(w + MMIO_DEVICE_FEATURES) & 1);
    mmio_write32(w + MMIO_DRIVER_FEATURES_SEL, 0);
    mmio_write32(w + MMIO_DRIVER_FEATURES, 0);
    mmio_write32(w + MMIO_DRIVER_FEATURES_SEL, 1);
    mmio_write32(w + MMIO_DRIVER_FEATURES, 1);
    mmio_write32(w + MMIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    CHECK(mmio_read32(w + MMIO_STATUS) & STATUS_FEATURES_OK);
    mmio_write32(w + MMIO_QUEUE_SEL, 0);
    CHECK(mmio_read32(w + MMIO_QUEUE_NUM_MAX) >= QSIZE);
    mmio_write32(w + MMIO_QUEUE_NUM, QSIZE);
    mmio_write64(w + MMIO_QUEUE_DESC, (uint64_t)desc);
    mmio_write64(w + MMIO_QUEUE_DRIVER, (uint64_t)&avail);
    mmio_write64(w + MMIO_QUEUE_DEVICE, (uint64_t)&used);
    mmio_write32(w + MMIO_QUEUE_READY, 1);
    mmio_write32(w + MMIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    CHECK_EQ(mmio_read32(w + MMIO_STATUS), STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    notify_addr = w + MMIO_QUEUE_NOTIFY;
    notify_width = 4;
    status_addr = w + MMIO_STATUS;
    run("through virtio-mmio");
    mmio_write32(w + MMIO_STATUS, 0);
    CHECK_EQ(mmio_read32(w + MMIO_STATUS), 0);
    return 0;
}

int main(void)
{
    dev = find_device();
    if (dev < 0) {
        uint64_t w = find_mmio();
        if (w != 0)
            return mmio_main(w);
        fail("no virtio-rng-pci (1af4:1044, or transitional 1af4:1005) on PCI bus 0 and no virtio-mmio entropy device");
    }
    printf("virtiorng: found 1af4:%04x at 00:%02x.0\n", pci_read16(dev, 2), dev);
    walk_capabilities();
    uint64_t base = bar_address();
    CHECK(base != 0);
    map_gib(base);
    pci_write16(dev, PCI_COMMAND, pci_read16(dev, PCI_COMMAND) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    setup(base);
    use_pci_at(base);
    run("at the BAR as placed");

    /* Move the BAR (decoding off while both halves change), then the same again at the new place. */
    pci_write16(dev, PCI_COMMAND, pci_read16(dev, PCI_COMMAND) & ~PCI_COMMAND_MEMORY);
    pci_write32(dev, PCI_BAR0 + 4 * bar_index, (uint32_t)MOVED_BAR);
    if ((pci_read32(dev, PCI_BAR0 + 4 * bar_index) & 6) == 4)
        pci_write32(dev, PCI_BAR0 + 4 * bar_index + 4, 0);
    pci_write16(dev, PCI_COMMAND, pci_read16(dev, PCI_COMMAND) | PCI_COMMAND_MEMORY);
    CHECK_EQ(bar_address(), MOVED_BAR);
    uint16_t before = avail.idx;
    use_pci_at(MOVED_BAR);
    run("after moving the BAR");
    CHECK_EQ((uint16_t)(avail.idx - before), (uint16_t)REQUESTS);

    /* Interrupt-driven: MSI-X vector 0 for queue 0, each request waits in HLT for its interrupt. */
    enable_msix(MOVED_BAR);
    use_irq = 1;
    run("each with its MSI-X interrupt");
    CHECK_EQ(irqs, REQUESTS);
    set_status(MOVED_BAR, 0);
    CHECK_EQ(get_status(MOVED_BAR), 0);
    return 0;
}
