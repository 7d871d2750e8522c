/*
 * virtioattack: a hostile virtio driver (issue 16) against virtio-blk-pci, driven from scratch
 * (virtio 1.2, 2.7 and 5.2). Each attack posts a request the device must refuse: a descriptor
 * loop, a next index past the ring, DMA aimed at the local APIC, the IOAPIC, the device's own BAR,
 * past the end of RAM and at the top of the address space (for the data, the status byte and the
 * header), a buffer of 4 GiB - 1, and an available index that runs 1000 entries ahead. The device
 * must either complete the request with a non-zero status byte or set DEVICE_NEEDS_RESET, within
 * a bounded number of polls; after a reset the same device must serve a valid read again. Then a
 * notify storm (two million doorbells with nothing new, and a hundred thousand for a queue that
 * does not exist), MSI-X messages aimed at RAM, at a reserved vector, at an APIC ID no CPU has and
 * at the top of 4 GiB, and an interrupt storm of completions with interrupts masked (not an INIT
 * or SIPI message: that parks this vCPU by design, on any machine). Then a ring that changes under
 * the device while it serves it (the test puts the disk on an iothread, a host thread of its own).
 * Last, random reads and writes all over the device's BAR, its MSI-X table and PBA included,
 * after which a reset must bring the device back. The test is that the VMM is still there, running
 * this vCPU, and that the device still works at the end. Nothing is written to the disk.
 */
#define QSIZE 8
#define POLL_LIMIT 5000000UL

#include "virtio_pci.h"

#define VIRTIO_BLK_T_IN 0
#define VIRTQ_DESC_F_NEXT 1
#define STATUS_NEEDS_RESET 0x40
#define IOAPIC 0xFEC00000UL
#define PAST_RAM 0x3FFFF000UL /* the demo machines here have 256 MiB: 1 GiB is neither RAM nor MMIO */

static struct virtq_desc desc[QSIZE] __attribute__((aligned(16)));
static struct virtq_avail avail __attribute__((aligned(2)));
static struct virtq_used used __attribute__((aligned(4)));
static struct {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
} hdr __attribute__((aligned(16)));
static uint8_t data[512] __attribute__((aligned(512)));
static volatile uint8_t status_byte;

static struct vpci v;
static uint64_t base, notify_addr;
static uint16_t last_used;

static uint8_t dev_status(void) { return mmio_read8(base + v.common.offset + COMMON_DEVICE_STATUS); }
static void set_status(uint8_t s) { mmio_write8(base + v.common.offset + COMMON_DEVICE_STATUS, s); }

/* Reset, negotiate VERSION_1 only, and give queue 0 the rings at d, a and u, zeroed (3.1.1). */
static void setup_rings(struct virtq_desc *d, struct virtq_avail *a, struct virtq_used *u)
{
    uint64_t c = base + v.common.offset;
    set_status(0);
    CHECK_EQ(dev_status(), 0);
    set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    mmio_write32(c + COMMON_DRIVER_FEATURE_SELECT, 0);
    mmio_write32(c + COMMON_DRIVER_FEATURE, 0);
    mmio_write32(c + COMMON_DRIVER_FEATURE_SELECT, 1);
    mmio_write32(c + COMMON_DRIVER_FEATURE, 1);
    set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    CHECK(dev_status() & STATUS_FEATURES_OK);
    mmio_write16(c + COMMON_QUEUE_SELECT, 0);
    mmio_write16(c + COMMON_QUEUE_SIZE, QSIZE);
    memset(d, 0, sizeof desc);
    memset(a, 0, sizeof avail);
    memset(u, 0, sizeof used);
    last_used = 0;
    mmio_write64(c + COMMON_QUEUE_DESC, (uint64_t)d);
    mmio_write64(c + COMMON_QUEUE_DRIVER, (uint64_t)a);
    mmio_write64(c + COMMON_QUEUE_DEVICE, (uint64_t)u);
    uint16_t off = mmio_read16(c + COMMON_QUEUE_NOTIFY_OFF);
    notify_addr = base + v.notify.offset + (uint64_t)off * v.notify_multiplier;
    mmio_write16(c + COMMON_QUEUE_ENABLE, 1);
    set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    CHECK_EQ(dev_status(), STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
}

/* Reset and give queue 0 this program's own rings. */
static void setup(void)
{
    setup_rings(desc, &avail, &used);
}

enum outcome { COMPLETED, NEEDS_RESET };

/* Makes descriptor head available, rings the doorbell, and waits for a used entry or DEVICE_NEEDS_RESET. */
static enum outcome post(uint16_t head, const char *what)
{
    avail.ring[avail.idx % QSIZE] = head;
    barrier();
    avail.idx++;
    barrier();
    mmio_write16(notify_addr, 0);
    for (unsigned long spins = 0; spins < POLL_LIMIT; spins++) {
        if (*(volatile uint16_t *)&used.idx != last_used) {
            last_used = *(volatile uint16_t *)&used.idx;
            return COMPLETED;
        }
        if (dev_status() & STATUS_NEEDS_RESET)
            return NEEDS_RESET;
        __asm__ volatile("pause");
    }
    failf("%s: the device neither completed the request nor asked for a reset (status %#x)", what, dev_status());
}

/* The three descriptors of a read of sector 0: header, data, status (5.2.6). */
static void chain(uint64_t h, uint64_t d, uint32_t dlen, uint64_t s)
{
    hdr.type = VIRTIO_BLK_T_IN;
    hdr.sector = 0;
    status_byte = 0xFF;
    desc[0] = (struct virtq_desc){h, sizeof hdr, VIRTQ_DESC_F_NEXT, 1};
    desc[1] = (struct virtq_desc){d, dlen, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2};
    desc[2] = (struct virtq_desc){s, 1, VIRTQ_DESC_F_WRITE, 0};
}

static void valid_read(const char *after)
{
    memset(data, 0, sizeof data);
    chain((uint64_t)&hdr, (uint64_t)data, sizeof data, (uint64_t)&status_byte);
    if (post(0, after) != COMPLETED || status_byte != 0)
        failf("after %s: a valid read failed (status byte %#x, device status %#x)", after, status_byte, dev_status());
    CHECK_EQ(data[0], 0xEB); /* the test's disk starts with a jump */
}

static unsigned refused_with_status, refused_with_reset;

/* A request that must be refused; then the device is reset and must work again. */
static void attack(const char *what)
{
    enum outcome o = post(0, what);
    if (o == COMPLETED) {
        if (status_byte == 0)
            failf("%s: the device reported success", what);
        refused_with_status++;
    } else {
        refused_with_reset++;
    }
    printf("virtioattack: %s: %s\n", what, o == COMPLETED ? "I/O error" : "needs reset");
    setup();
    valid_read(what);
}

static void dma_attacks(void)
{
    static const struct {
        uint64_t addr;
        const char *name;
    } targets[] = {
        {LAPIC, "the local APIC"},
        {IOAPIC, "the IOAPIC"},
        {0, "the device's own BAR"},
        {PAST_RAM, "past the end of RAM"},
        {0xFFFFFFFFFFFFF000UL, "the top of the address space"},
    };
    char what[96];
    for (unsigned i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        uint64_t a = targets[i].addr ? targets[i].addr : base;
        chain((uint64_t)&hdr, a, sizeof data, (uint64_t)&status_byte);
        snprintf(what, sizeof what, "data DMA at %s", targets[i].name);
        attack(what);
        chain((uint64_t)&hdr, (uint64_t)data, sizeof data, a);
        snprintf(what, sizeof what, "status byte at %s", targets[i].name);
        attack(what);
        chain(a, (uint64_t)data, sizeof data, (uint64_t)&status_byte);
        snprintf(what, sizeof what, "header at %s", targets[i].name);
        attack(what);
    }
}

static void chain_attacks(void)
{
    chain((uint64_t)&hdr, (uint64_t)data, sizeof data, (uint64_t)&status_byte);
    desc[0].next = 0; /* the header's descriptor is its own successor */
    attack("a descriptor loop");
    chain((uint64_t)&hdr, (uint64_t)data, sizeof data, (uint64_t)&status_byte);
    desc[1].next = 200;
    attack("a next index past the ring");
    chain((uint64_t)&hdr, (uint64_t)data, 0xFFFFFFFFu, (uint64_t)&status_byte);
    attack("a 4 GiB data buffer");

    /* The available index runs 1000 entries ahead of what the ring holds (2.7.6). */
    chain((uint64_t)&hdr, (uint64_t)data, sizeof data, (uint64_t)&status_byte);
    avail.idx += 999;
    attack("an available index 1000 ahead");
}

static void notify_storm(void)
{
    for (unsigned long i = 0; i < 2000000; i++)
        mmio_write16(notify_addr, 0);
    for (unsigned long i = 0; i < 100000; i++)
        mmio_write16(notify_addr, 7); /* a queue the device does not have */
    valid_read("a notify storm");
    printf("virtioattack: 2100000 doorbells with nothing new: the device still works\n");
}

static uint64_t rng = 0x9E3779B97F4A7C15UL;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/*
 * The ring's memory for the attack below: its own descriptor table, available and used rings and
 * buffers, so that whatever the device is made to write stays in here (a garbage address inside
 * this program's code or data would only show that a guest can overwrite itself).
 */
#define ARENA_SIZE 0x10000
#define ARENA_BUFFERS 0x3000
static uint8_t arena[ARENA_SIZE] __attribute__((aligned(4096)));

/* A buffer address the attack writes into a descriptor: in the arena (a 4 KiB buffer fits), its rings, or no RAM. */
static uint64_t garbage_addr(uint64_t r)
{
    switch (r % 8) {
    case 0: case 1: case 2: case 3:
        return (uint64_t)arena + ARENA_BUFFERS + ((r >> 8) % ((ARENA_SIZE - ARENA_BUFFERS - 0x1000) / 512)) * 512;
    case 4: return (uint64_t)arena;            /* the descriptor table itself */
    case 5: return (uint64_t)arena + 0x1000;   /* the available ring */
    case 6: return PAST_RAM;
    default: return 0xFFFFFFFFFFFFF000UL;
    }
}

/*
 * A ring that changes under the device. The test runs this disk on an iothread, which serves the
 * queue on a host thread of its own, concurrently with this vCPU: each round posts two valid
 * reads, rings the doorbell and at once rewrites descriptors (addresses, lengths, flags, next
 * indices) and available entries and index with garbage while the device walks them, rings again,
 * watches a while, and resets the device, perhaps mid-request. Whether a round ends completed,
 * refused or with DEVICE_NEEDS_RESET depends on timing, so nothing about it is asserted; the test
 * is that the VMM keeps running and that the device serves a valid read after the last reset.
 */
static void ring_changes_under_the_device(void)
{
    struct virtq_desc *d = (struct virtq_desc *)arena;
    struct virtq_avail *a = (struct virtq_avail *)(arena + 0x1000);
    struct virtq_used *u = (struct virtq_used *)(arena + 0x2000);
    uint8_t *buf = arena + ARENA_BUFFERS;
    unsigned long rewrites = 0, completed = 0, reset_asked = 0;
    for (int round = 0; round < 400; round++) {
        setup_rings(d, a, u);
        memset(buf, 0, ARENA_SIZE - ARENA_BUFFERS);
        for (int c = 0; c < 2; c++) { /* header, 512-byte data, status: slots 3c..3c+2 */
            uint8_t *h = buf + c * 0x1000, *data_c = h + 0x200, *st = h + 0x400;
            d[3 * c] = (struct virtq_desc){(uint64_t)h, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(3 * c + 1)};
            d[3 * c + 1] = (struct virtq_desc){(uint64_t)data_c, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (uint16_t)(3 * c + 2)};
            d[3 * c + 2] = (struct virtq_desc){(uint64_t)st, 1, VIRTQ_DESC_F_WRITE, 0};
            a->ring[c] = (uint16_t)(3 * c);
        }
        barrier();
        a->idx = 2;
        barrier();
        mmio_write16(notify_addr, 0);
        for (int k = 0; k < 24; k++) {
            uint64_t r = next_random();
            int i = (int)((r >> 3) % QSIZE);
            switch (r % 7) {
            case 0: d[i].addr = garbage_addr(r >> 16); break;
            case 1: /* within a 4 KiB buffer, or 2 GiB and more: past RAM wherever it starts */
                d[i].len = (r >> 16) & 1 ? 0x80000000u | (uint32_t)(r >> 20) : (uint32_t)(r >> 20) % 4097;
                break;
            case 2: d[i].flags = (uint16_t)(r >> 16) & 7; break;   /* NEXT, WRITE, INDIRECT (not negotiated) */
            case 3: d[i].next = (uint16_t)(r >> 16) % (QSIZE + 2); break;
            case 4: a->ring[i] = (uint16_t)(r >> 16) % (QSIZE + 2); break;
            case 5: a->idx = (uint16_t)(a->idx + (r >> 16) % 3); break;
            default: mmio_write16(notify_addr, 0); break;
            }
            rewrites++;
        }
        mmio_write16(notify_addr, 0);
        for (int spin = 0; spin < 2000; spin++) {
            if (dev_status() & STATUS_NEEDS_RESET) {
                reset_asked++;
                break;
            }
            __asm__ volatile("pause");
        }
        completed += *(volatile uint16_t *)&u->idx;
    }
    setup();
    valid_read("a ring changed under the device");
    printf("virtioattack: %lu rewrites of a ring in use (%lu requests used, %lu resets asked for): "
           "the device works after a reset\n", rewrites, completed, reset_asked);
}

static void find_msix(int *cap, uint64_t *table)
{
    int p = pci_read8(v.dev, PCI_CAP_PTR) & 0xFC;
    for (int n = 0; p != 0 && pci_read8(v.dev, p) != PCI_CAP_MSIX && n < 48; n++)
        p = pci_read8(v.dev, p + 1) & 0xFC;
    CHECK(p != 0 && pci_read8(v.dev, p) == PCI_CAP_MSIX);
    uint32_t t = pci_read32(v.dev, p + 4);
    *table = vpci_bar(v.dev, t & 7) + (t & ~7u);
    *cap = p;
}

/* Completions signalled through MSI-X entries aimed where no interrupt controller is, with IF clear. */
static void msix_attacks(void)
{
    int cap;
    uint64_t table;
    find_msix(&cap, &table);
    map_gib(table);
    static const struct {
        uint32_t addr, data;
        const char *name;
    } entries[] = {
        {0x00200000, 0xDEADBEEF, "guest RAM"},
        {0xFEE00000, 0x00000002, "vector 2 (reserved)"},
        {0xFEEFF000, 0x000000FF, "an APIC ID no CPU has"},
        {0xFFFFFFF0, 0x12345678, "the top of 4 GiB"},
    };
    pci_write16(v.dev, cap + 2, pci_read16(v.dev, cap + 2) | MSIX_ENABLE);
    for (unsigned i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        setup();
        mmio_write32(table + 0, entries[i].addr);
        mmio_write32(table + 4, 0);
        mmio_write32(table + 8, entries[i].data);
        mmio_write32(table + 12, 0);
        uint64_t c = base + v.common.offset;
        mmio_write16(c + COMMON_QUEUE_SELECT, 0);
        mmio_write16(c + COMMON_QUEUE_MSIX_VECTOR, 0);
        for (int r = 0; r < 200; r++) /* an interrupt storm, each completion signalled */
            valid_read(entries[i].name);
        printf("virtioattack: 200 completions signalled at %s\n", entries[i].name);
    }
    pci_write16(v.dev, cap + 2, pci_read16(v.dev, cap + 2) & ~MSIX_ENABLE);
}

/*
 * A random MSI-X message: the address is an interrupt (0xFEExxxxx: any destination, mode and hint)
 * or lies past RAM and below the PCI hole, so no message can land in this program's memory; the
 * data may carry any vector and trigger bits, with the delivery mode kept fixed or lowest
 * priority: an INIT, SIPI, NMI or SMI would stop this vCPU by design on any machine.
 */
static uint32_t msix_dword(unsigned field, uint32_t v)
{
    switch (field) {
    case 0: return v & 1 ? 0xFEE00000u | (v & 0x000FFFFCu) : 0x40000000u | (v & 0x3FFFFFFCu);
    case 1: return 0;                      /* address high: below 4 GiB (above is BAR space) */
    case 2: return v & ~0x600u;            /* data: delivery mode 000 or 001 */
    default: return v;                     /* vector control: masked or not, reserved bits too */
    }
}

/*
 * Random reads and writes of random widths all over the device's BAR (common configuration,
 * ISR, notify and device configuration windows, and what lies between), with the device
 * running, and random entries in the MSI-X table with MSI-X enabled (function mask set or
 * not) and reads of the PBA. The table is written in whole dwords as PCI 3.0 6.8.2 requires,
 * sub-dword only in vector control and the PBA, whose writes must be ignored; reads take any
 * width anywhere. Then completions are signalled through whatever the table holds, and a reset
 * must bring the device back.
 */
static void bar_sweep(void)
{
    int cap;
    uint64_t table;
    find_msix(&cap, &table);
    uint32_t tinfo = pci_read32(v.dev, cap + 4), pinfo = pci_read32(v.dev, cap + 8);
    int tsize = ((pci_read16(v.dev, cap + 2) & 0x7FF) + 1) * 16;
    uint64_t tbase = vpci_bar(v.dev, tinfo & 7) + (tinfo & ~7u);
    uint64_t pbase = vpci_bar(v.dev, pinfo & 7) + (pinfo & ~7u);
    uint64_t span = 0x4000; /* the virtio windows of jvisor's and QEMU's layouts lie in the first 16 KiB */
    map_gib(tbase);
    map_gib(pbase);
    unsigned long writes = 0, table_writes = 0;
    for (int pass = 0; pass < 4; pass++) {
        uint16_t ctl = pci_read16(v.dev, cap + 2) & ~0x4000u;
        pci_write16(v.dev, cap + 2, ctl | MSIX_ENABLE | (pass & 1 ? 0x4000 : 0)); /* function mask on odd passes */
        /* the virtio windows, then the table and the PBA wherever they are (the same BAR or another) */
        for (int region = 0; region < 3; region++) {
            uint64_t from = region == 0 ? base : region == 1 ? tbase : pbase;
            uint64_t len = region == 0 ? span : region == 1 ? (uint64_t)tsize : 64;
            int reps = region == 0 ? 1 : 32; /* the table is small: many rounds of it */
            for (uint64_t off = 0; off < len * reps; off += 1 + (next_random() & 3)) {
                uint64_t r = next_random();
                unsigned width = 1u << (r & 3) % 3;
                uint64_t a = (from + off % len) & ~(uint64_t)(width - 1);
                uint32_t val = (uint32_t)(r >> 32);
                bool in_table = a + width > tbase && a < tbase + tsize;
                bool in_pba = a + width > pbase && a < pbase + 64;
                if (region == 0 && (in_table || in_pba))
                    continue; /* swept as such below */
                if ((r & 4) && in_table) {
                    unsigned field = (unsigned)((a - tbase) >> 2) & 3;
                    if (field != 3 || width == 4) { /* a whole dword of address or data */
                        a &= ~3UL;
                        width = 4;
                        val = msix_dword(field, val);
                    }
                }
                if (r & 4) {
                    writes++;
                    table_writes += region != 0;
                    if (width == 1)
                        mmio_write8(a, (uint8_t)val);
                    else if (width == 2)
                        mmio_write16(a, (uint16_t)val);
                    else
                        mmio_write32(a, val);
                } else {
                    if (width == 1)
                        (void)mmio_read8(a);
                    else if (width == 2)
                        (void)mmio_read16(a);
                    else
                        (void)mmio_read32(a);
                }
            }
        }
    }
    /* completions through each of the first entries as the sweep left them, function mask off */
    pci_write16(v.dev, cap + 2, (pci_read16(v.dev, cap + 2) & ~0x4000u) | MSIX_ENABLE);
    pci_write16(v.dev, PCI_COMMAND, pci_read16(v.dev, PCI_COMMAND) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    int entries = tsize / 16;
    for (int e = 0; e < entries && e < 8; e++) {
        setup();
        uint64_t c = base + v.common.offset;
        mmio_write16(c + COMMON_QUEUE_SELECT, 0);
        mmio_write16(c + COMMON_QUEUE_MSIX_VECTOR, (uint16_t)e);
        mmio_write16(c + COMMON_CONFIG_MSIX_VECTOR, (uint16_t)e);
        for (int r = 0; r < 20; r++)
            valid_read("a sweep of the BAR and its MSI-X table");
    }
    pci_write16(v.dev, cap + 2, pci_read16(v.dev, cap + 2) & ~MSIX_ENABLE);
    setup();
    valid_read("a sweep of the BAR");
    printf("virtioattack: %lu random writes over the BAR, %lu to its MSI-X table and PBA: "
           "the device works after a reset\n", writes, table_writes);
}

int main(void)
{
    __asm__ volatile("cli");
    v.dev = vpci_find(0x10421AF4, 0x10011AF4); /* modern, or QEMU's transitional default */
    if (v.dev < 0)
        fail("no virtio-blk-pci (1af4:1042, or transitional 1af4:1001) on PCI bus 0");
    int seen = vpci_walk(&v);
    CHECK((seen & 0x0E) == 0x0E);
    CHECK(v.common.bar == v.notify.bar);
    base = vpci_bar(v.dev, v.common.bar);
    CHECK(base != 0);
    map_gib(base);
    pci_write16(v.dev, PCI_COMMAND, pci_read16(v.dev, PCI_COMMAND) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    setup();
    valid_read("setup");
    printf("virtioattack: virtio-blk at 00:%02x.0 reads sector 0\n", v.dev);
    /* The test asks its monitor a question between these stages and sends a byte on COM1 once
     * answered: "the monitor answers after each stage", however fast the attacks run. */
    await_host("virtioattack");
    chain_attacks();
    await_host("virtioattack");
    dma_attacks();
    notify_storm();
    await_host("virtioattack");
    msix_attacks();
    await_host("virtioattack");
    ring_changes_under_the_device();
    await_host("virtioattack");
    bar_sweep();
    printf("virtioattack: survived (%u refused with an I/O error, %u with a reset)\n", refused_with_status,
           refused_with_reset);
    pass();
}
