/*
 * vtd: the guest programs an Intel VT-d unit (VT-d spec 4.0) itself and drives virtio-rng-pci
 * through it with IOVAs that differ from the guest-physical addresses.
 * Asserts: the unit at 0xFED90000 reads VER 1.0 with QI and pass-through in ECAP; the root table
 * latches (GSTS.RTPS), queued invalidation starts (QIES) and completes wait descriptors by their
 * status write; translation turns on (TES). The device offers VIRTIO_F_ACCESS_PLATFORM and runs
 * REQUESTS requests whose rings and buffers sit at IOVA = GPA + IOVA_OFFSET, the entropy landing
 * at the guest-physical buffer. Then the buffer's page is unmapped (page-selective IOTLB
 * invalidation and a wait): the next request is refused, the unit records a primary fault
 * (FSTS.PPF; FRCD with F, reason 5 = write without permission, the device's source id, the
 * IOVA's page), the fault event MSI (FEDATA/FEADDR, vector FAULT_VECTOR) arrives, the buffer
 * stays untouched, and the device either reports DEVICE_NEEDS_RESET (jvisor) or completes the
 * request without its data (QEMU 7.2). Last, FPD in the context entry suppresses the record of a
 * second refused request.
 * Device-TLBs (VT-d ch. 4, PCIe ATS) last: the context entry gets TT=01 (device-TLB allowed).
 * Without ECAP.DT that entry is invalid: the request is refused with fault reason 3. With DT
 * (device-iotlb=on) it is accepted; if the function has the ATS extended capability (jvisor with
 * ats=on; QEMU 7.2 has it only behind a PCIe port, not on bus 0) the guest enables ATS, a request
 * fills the device-TLB, the buffer's page is remapped to another page and only the IOTLB is
 * invalidated: the next request still lands in the old page (the device-TLB's translation); a
 * device-IOTLB invalidate descriptor for the function's source id and that page (6.5.2.5) makes
 * the next one land in the new page. Without ATS the IOTLB invalidation alone moves it. Both
 * units complete the device-IOTLB descriptor by the wait behind it, and one with a reserved bit
 * set is an invalidation queue error (FSTS.IQE).
 * Run with -M q35 -device intel-iommu[,device-iotlb=on]
 *     -device virtio-rng-pci,iommu_platform=on,disable-legacy=on[,ats=on].
 */
#include "lib.h"

#define REQUESTS 16
#define BUF 64
#define QSIZE 8
#include "virtio_pci.h"
#define POLL_LIMIT 20000000UL
#define IOVA_OFFSET 0x40000000UL /* IOVA = GPA + 1 GiB */

#define VTD 0xFED90000UL
#define VTD_VER 0x00
#define VTD_CAP 0x08
#define VTD_ECAP 0x10
#define VTD_GCMD 0x18
#define VTD_GSTS 0x1C
#define VTD_RTADDR 0x20
#define VTD_FSTS 0x34
#define VTD_FECTL 0x38
#define VTD_FEDATA 0x3C
#define VTD_FEADDR 0x40
#define VTD_FEUADDR 0x44
#define VTD_IQH 0x80
#define VTD_IQT 0x88
#define VTD_IQA 0x90
#define GCMD_TE (1u << 31)
#define GCMD_SRTP (1u << 30)
#define GCMD_QIE (1u << 26)
#define FSTS_PFO 1u
#define FSTS_PPF 2u
#define FSTS_IQE 0x10u

#define STATUS_NEEDS_RESET 0x40
#define FAULT_VECTOR 0x50

/* The rings in one page, so one mapping covers them. */
struct rings {
    struct virtq_desc desc[QSIZE];
    uint16_t avail_flags, avail_idx, avail_ring[QSIZE], used_event;
    uint8_t pad[2];
    uint16_t used_flags, used_idx;
    struct { uint32_t id, len; } used_ring[QSIZE];
    uint16_t avail_event;
};

static struct rings rings __attribute__((aligned(4096)));
static uint8_t buffer[4096] __attribute__((aligned(4096)));
static uint8_t other[4096] __attribute__((aligned(4096))); /* where the buffer's IOVA is remapped to */
static uint64_t root[512] __attribute__((aligned(4096)));
static uint64_t context[512] __attribute__((aligned(4096)));
static uint64_t l3[512] __attribute__((aligned(4096)));
static uint64_t l2[512] __attribute__((aligned(4096)));
static uint64_t l1[512] __attribute__((aligned(4096)));
static uint64_t queue[512] __attribute__((aligned(4096))); /* 256 descriptors of 16 bytes */
static volatile uint32_t wait_status;
static unsigned tail;

static int dev;
static uint64_t common_addr, notify_base, notify_addr;
static uint32_t notify_multiplier;
static uint16_t last_used;
static volatile unsigned fault_irqs;

static inline void w64(uint64_t a, uint64_t v) { *(volatile uint64_t *)a = v; }
static inline uint64_t r64(uint64_t a) { return *(volatile uint64_t *)a; }

static void on_fault_event(struct frame *f)
{
    (void)f;
    fault_irqs++;
    mmio_write32(LAPIC + LAPIC_EOI, 0);
}

static void wait_gsts(uint32_t bits, uint32_t want)
{
    for (unsigned long n = 0; (mmio_read32(VTD + VTD_GSTS) & bits) != want; n++)
        if (n == POLL_LIMIT)
            failf("GSTS %#x: bits %#x never became %#x", mmio_read32(VTD + VTD_GSTS), bits, want);
}

/* One 128-bit descriptor into the invalidation queue, and a wait descriptor behind it that writes
 * a fresh status word; returns once the status arrived (6.5.2.8). */
static void invalidate(uint64_t lo, uint64_t hi)
{
    static uint32_t seq;
    queue[2 * tail] = lo;
    queue[2 * tail + 1] = hi;
    tail = (tail + 1) % 256;
    seq++;
    queue[2 * tail] = 5 | 0x20 | (uint64_t)seq << 32; /* wait, status write */
    queue[2 * tail + 1] = (uint64_t)&wait_status;
    tail = (tail + 1) % 256;
    barrier();
    w64(VTD + VTD_IQT, (uint64_t)tail << 4);
    for (unsigned long n = 0; wait_status != seq; n++) {
        if (n == POLL_LIMIT)
            failf("wait descriptor %u never completed (FSTS %#x, IQH %#lx)", seq, mmio_read32(VTD + VTD_FSTS), r64(VTD + VTD_IQH));
        __asm__ volatile("pause");
    }
}

static void map_page(uint64_t gpa, int writable)
{
    uint64_t iova = gpa + IOVA_OFFSET;
    CHECK((iova >> 21) == ((IOVA_OFFSET + (uint64_t)&rings) >> 21)); /* one 2 MiB region: one L1 table */
    l1[(iova >> 12) & 0x1FF] = gpa | 1 | (writable ? 2 : 0);
}

static void setup_tables(int fpd, int tt)
{
    int devfn = dev << 3;
    uint64_t iova = (uint64_t)&rings + IOVA_OFFSET;
    root[0] = (uint64_t)context | 1;
    context[2 * devfn] = (uint64_t)l3 | (uint64_t)tt << 2 | (fpd ? 2 : 0) | 1; /* present, TT 0 (translated) or 1 */
    context[2 * devfn + 1] = 1u << 8 | 1;                  /* domain 1, AW 1: 3 levels */
    l3[(iova >> 30) & 0x1FF] = (uint64_t)l2 | 3;
    l2[(iova >> 21) & 0x1FF] = (uint64_t)l1 | 3;
    map_page((uint64_t)&rings, 1);
    map_page((uint64_t)buffer, 1);
    barrier();
}

static void enable_vtd(void)
{
    CHECK_EQ(mmio_read32(VTD + VTD_VER), 0x10);
    uint64_t ecap = r64(VTD + VTD_ECAP);
    printf("vtd: unit at %#lx: cap %#lx ecap %#lx\n", VTD, r64(VTD + VTD_CAP), ecap);
    CHECK(ecap & 2);    /* QI */
    CHECK(ecap & 0x40); /* pass-through */
    setup_tables(0, 0);
    w64(VTD + VTD_RTADDR, (uint64_t)root);
    mmio_write32(VTD + VTD_GCMD, GCMD_SRTP);
    wait_gsts(GCMD_SRTP, GCMD_SRTP);
    w64(VTD + VTD_IQA, (uint64_t)queue); /* QS 0 */
    mmio_write32(VTD + VTD_GCMD, GCMD_QIE);
    wait_gsts(GCMD_QIE, GCMD_QIE);
    CHECK_EQ(r64(VTD + VTD_IQH), 0);
    invalidate(1 | 1u << 4, 0); /* global context-cache invalidation */
    invalidate(2 | 1u << 4, 0); /* global IOTLB invalidation */
    mmio_write32(VTD + VTD_FEDATA, FAULT_VECTOR);
    mmio_write32(VTD + VTD_FEADDR, (uint32_t)LAPIC); /* APIC 0, physical, fixed */
    mmio_write32(VTD + VTD_FEUADDR, 0);
    mmio_write32(VTD + VTD_FECTL, 0);                /* unmasked */
    mmio_write32(VTD + VTD_GCMD, GCMD_QIE | GCMD_TE);
    wait_gsts(GCMD_TE | GCMD_QIE, GCMD_TE | GCMD_QIE);
    CHECK_EQ(mmio_read32(VTD + VTD_FSTS), 0);
    printf("vtd: root table, queued invalidation and translation on\n");
}

static void find_device(void)
{
    struct vpci v = {0};
    v.dev = vpci_find(0x10441AF4, 0x10441AF4);
    if (v.dev < 0)
        fail("no modern virtio-rng-pci (1af4:1044) on bus 0");
    dev = v.dev;
    int seen = vpci_walk(&v);
    CHECK(seen & (1 << VIRTIO_PCI_CAP_COMMON_CFG));
    CHECK(seen & (1 << VIRTIO_PCI_CAP_NOTIFY_CFG));
    CHECK_EQ(v.notify.bar, v.common.bar);
    uint64_t base = vpci_bar(dev, v.common.bar);
    CHECK(base != 0);
    map_gib(base);
    pci_write16(dev, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    common_addr = base + v.common.offset;
    notify_base = base + v.notify.offset;
    notify_multiplier = v.notify_multiplier;
}

static uint8_t status(void) { return mmio_read8(common_addr + COMMON_DEVICE_STATUS); }

static void setup_device(void)
{
    uint64_t c = common_addr;
    mmio_write8(c + COMMON_DEVICE_STATUS, 0);
    CHECK_EQ(status(), 0);
    mmio_write8(c + COMMON_DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    mmio_write32(c + COMMON_DEVICE_FEATURE_SELECT, 1);
    uint32_t hi = mmio_read32(c + COMMON_DEVICE_FEATURE);
    CHECK(hi & 1); /* VIRTIO_F_VERSION_1 */
    CHECK(hi & 2); /* VIRTIO_F_ACCESS_PLATFORM */
    mmio_write32(c + COMMON_DRIVER_FEATURE_SELECT, 0);
    mmio_write32(c + COMMON_DRIVER_FEATURE, 0);
    mmio_write32(c + COMMON_DRIVER_FEATURE_SELECT, 1);
    mmio_write32(c + COMMON_DRIVER_FEATURE, 3);
    mmio_write8(c + COMMON_DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    CHECK(status() & STATUS_FEATURES_OK);
    mmio_write16(c + COMMON_QUEUE_SELECT, 0);
    CHECK(mmio_read16(c + COMMON_QUEUE_SIZE) >= QSIZE);
    mmio_write16(c + COMMON_QUEUE_SIZE, QSIZE);
    memset(&rings, 0, sizeof rings);
    last_used = 0;
    uint64_t iova = (uint64_t)&rings + IOVA_OFFSET;
    w64(c + COMMON_QUEUE_DESC, iova + __builtin_offsetof(struct rings, desc));
    w64(c + COMMON_QUEUE_DRIVER, iova + __builtin_offsetof(struct rings, avail_flags));
    w64(c + COMMON_QUEUE_DEVICE, iova + __builtin_offsetof(struct rings, used_flags));
    uint16_t off = mmio_read16(c + COMMON_QUEUE_NOTIFY_OFF);
    mmio_write16(c + COMMON_QUEUE_ENABLE, 1);
    mmio_write8(c + COMMON_DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    CHECK_EQ(status(), STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    notify_addr = notify_base + (uint64_t)off * notify_multiplier;
}

/* Posts one request for BUF bytes at the buffer's IOVA; returns whether the device used it. */
static int request(unsigned n)
{
    unsigned d = n % QSIZE;
    rings.desc[d].addr = (uint64_t)buffer + IOVA_OFFSET + BUF * d;
    rings.desc[d].len = BUF;
    rings.desc[d].flags = VIRTQ_DESC_F_WRITE;
    rings.desc[d].next = 0;
    rings.avail_ring[rings.avail_idx % QSIZE] = (uint16_t)d;
    barrier();
    rings.avail_idx++;
    barrier();
    mmio_write16(notify_addr, 0);
    for (unsigned long spins = 0; *(volatile uint16_t *)&rings.used_idx == last_used; spins++) {
        if ((status() & STATUS_NEEDS_RESET) || (mmio_read32(VTD + VTD_FSTS) & FSTS_PPF))
            return 0;
        if (spins == POLL_LIMIT)
            failf("request %u: no used buffer and no fault (device status %#x)", n, status());
        __asm__ volatile("pause");
    }
    barrier();
    last_used++;
    CHECK_EQ(rings.used_ring[(last_used - 1) % QSIZE].id, d);
    CHECK_EQ(rings.used_ring[(last_used - 1) % QSIZE].len, BUF);
    return 1;
}

/* PCIe enhanced configuration (ECAM) of function `dev` on bus 0. QEMU's firmware programs q35's
 * PCIEXBAR (host bridge 0x60, enable bit 0, base in 35:28); jvisor's ECAM is at 0xE0000000, as its
 * MCFG says, and its PCIEXBAR reads 0. */
static uint64_t ecam(int off)
{
    uint64_t bar = pci_read32(0, 0x60) | (uint64_t)pci_read32(0, 0x64) << 32;
    uint64_t base = (bar & 1) ? bar & 0xFF0000000UL : 0xE0000000UL;
    return base + ((uint64_t)dev << 15) + (uint64_t)off;
}

/* The offset of the ATS extended capability (ID 0x000F) of the device, or 0. */
static int find_ats(void)
{
    for (int off = 0x100, n = 0; off >= 0x100 && n < 64; n++) {
        uint32_t h = mmio_read32(ecam(off));
        if (h == 0 || h == 0xFFFFFFFFu)
            return 0;
        if ((h & 0xFFFF) == 0x000F)
            return off;
        off = (int)(h >> 20);
    }
    return 0;
}

/* The buffer and the other page zeroed; one request; which page got the entropy (1 buffer, 2 other, 0 none). */
static int request_lands(unsigned n)
{
    memset(buffer, 0, sizeof buffer);
    memset(other, 0, sizeof other);
    if (!request(n))
        failf("request %u refused (FSTS %#x, FRCD %#lx %#lx)", n, mmio_read32(VTD + VTD_FSTS), r64(VTD + 0x220), r64(VTD + 0x228));
    int in_buffer = 0, in_other = 0;
    unsigned at = BUF * (n % QSIZE);
    for (int i = 0; i < BUF; i++) {
        in_buffer |= buffer[at + i];
        in_other |= other[at + i];
    }
    CHECK(!(in_buffer && in_other));
    return in_buffer ? 1 : in_other ? 2 : 0;
}

static void device_tlb(void)
{
    uint64_t buffer_iova = (uint64_t)buffer + IOVA_OFFSET;
    int dt = (r64(VTD + VTD_ECAP) >> 2) & 1;
    setup_tables(0, 1);
    invalidate(1 | 1u << 4, 0);
    invalidate(2 | 1u << 4, 0);
    if (!dt) {
        /* TT=01 without ECAP.DT: an invalid context entry (reason 3) for every request of the device */
        setup_device();
        int used = request(0);
        unsigned long spins = 0;
        while (!(mmio_read32(VTD + VTD_FSTS) & FSTS_PPF) && ++spins < POLL_LIMIT)
            __asm__ volatile("pause");
        uint64_t frcd_hi = r64(VTD + 0x228);
        printf("vtd: TT=01 without ECAP.DT: FSTS %#x FRCD %#lx %#lx (request %s)\n", mmio_read32(VTD + VTD_FSTS),
               r64(VTD + 0x220), frcd_hi, used ? "used" : "refused");
        CHECK(mmio_read32(VTD + VTD_FSTS) & FSTS_PPF);
        CHECK_EQ(frcd_hi >> 63, 1);
        CHECK_EQ((frcd_hi >> 32) & 0xFF, 3);
        CHECK_EQ(frcd_hi & 0xFFFF, (uint64_t)dev << 3);
        return;
    }
    int ats = find_ats();
    if (ats) {
        CHECK_EQ(mmio_read32(ecam(ats)) & 0xF0000, 0x10000); /* version 1 */
        CHECK(mmio_read16(ecam(ats + 4)) & 0x20);           /* page aligned requests */
        mmio_write16(ecam(ats + 6), 0x8000);                /* Enable, STU 0 (4 KiB) */
        CHECK_EQ(mmio_read16(ecam(ats + 6)), 0x8000);
    }
    printf("vtd: ECAP.DT, TT=01 accepted; %s\n", ats ? "ATS capability found and enabled" : "no ATS capability");
    setup_device();
    CHECK_EQ(request_lands(0), 1);
    l1[(buffer_iova >> 12) & 0x1FF] = (uint64_t)other | 3; /* the buffer's IOVA now maps the other page */
    barrier();
    invalidate(2 | 3u << 4 | 1ul << 16, buffer_iova);     /* the IOTLB only */
    int lands = request_lands(1);
    printf("vtd: after the IOTLB invalidation alone the request lands in the %s page\n", lands == 1 ? "old" : "new");
    CHECK_EQ(lands, ats ? 1 : 2);                           /* a device-TLB keeps the old translation */
    invalidate(3 | (uint64_t)(dev << 3) << 32, buffer_iova);  /* device-IOTLB, S=0: that 4 KiB page */
    CHECK_EQ(mmio_read32(VTD + VTD_FSTS) & FSTS_IQE, 0);
    CHECK_EQ(request_lands(2), 2);
    printf("vtd: after the device-IOTLB invalidation it lands in the new page\n");
    /* A device-IOTLB descriptor with reserved bit 1 of its high qword: IQE, the queue stops there. */
    queue[2 * tail] = 3 | (uint64_t)(dev << 3) << 32;
    queue[2 * tail + 1] = buffer_iova | 2;
    tail = (tail + 1) % 256;
    barrier();
    w64(VTD + VTD_IQT, (uint64_t)tail << 4);
    for (unsigned long n = 0; !(mmio_read32(VTD + VTD_FSTS) & FSTS_IQE); n++)
        if (n == POLL_LIMIT)
            failf("no IQE for a device-IOTLB descriptor with a reserved bit (FSTS %#x)", mmio_read32(VTD + VTD_FSTS));
    printf("vtd: a reserved bit in a device-IOTLB descriptor: IQE\n");
}

int main(void)
{
    find_device();
    printf("vtd: virtio-rng-pci at 00:%02x.0\n", dev);
    idt_init();
    set_handler(FAULT_VECTOR, on_fault_event);
    outb(0x21, 0xFF); /* firmware's 8259s masked */
    outb(0xA1, 0xFF);
    mmio_write32(LAPIC + LAPIC_SVR, 0x1FF);
    enable_vtd();
    setup_device();

    for (unsigned n = 0; n < REQUESTS; n++) {
        memset(buffer, 0, sizeof buffer);
        if (!request(n))
            failf("request %u refused (FSTS %#x, FRCD %#lx %#lx)", n, mmio_read32(VTD + VTD_FSTS), r64(VTD + 0x220), r64(VTD + 0x228));
        int zero = 1;
        for (int i = 0; i < BUF; i++)
            zero &= buffer[BUF * (n % QSIZE) + i] == 0;
        if (zero)
            failf("request %u: no entropy at the buffer's guest-physical address", n);
    }
    printf("vtd: %d requests through IOVAs at GPA + %#lx\n", REQUESTS, IOVA_OFFSET);

    /* Unmap the buffer, invalidate its page (domain 1, AM 0) and wait: the next request faults. */
    l1[(((uint64_t)buffer + IOVA_OFFSET) >> 12) & 0x1FF] = 0;
    barrier();
    invalidate(2 | 3u << 4 | 1ul << 16, (uint64_t)buffer + IOVA_OFFSET);
    memset(buffer, 0, sizeof buffer);
    /* jvisor refuses the request (DEVICE_NEEDS_RESET); QEMU 7.2 completes it with the data dropped
     * (its bounce buffer's write-back faults). Either way: a fault record, nothing in the buffer. */
    int used = request(REQUESTS);
    unsigned long spins = 0;
    while (!(mmio_read32(VTD + VTD_FSTS) & FSTS_PPF) && ++spins < POLL_LIMIT)
        __asm__ volatile("pause");
    /* QEMU may record the fault before it puts the request in the used ring: watch both */
    while (!used && !(status() & STATUS_NEEDS_RESET) && ++spins < POLL_LIMIT) {
        if (*(volatile uint16_t *)&rings.used_idx != last_used) {
            barrier();
            last_used++;
            used = 1;
            break;
        }
        __asm__ volatile("pause");
    }
    for (spins = 0; fault_irqs == 0 && spins < POLL_LIMIT / 1000; spins++)
        __asm__ volatile("sti; hlt; cli" : : : "memory");
    uint32_t fsts = mmio_read32(VTD + VTD_FSTS);
    uint64_t frcd_lo = r64(VTD + 0x220), frcd_hi = r64(VTD + 0x228);
    printf("vtd: refused: FSTS %#x FRCD %#lx %#lx, %u fault interrupt(s); the device %s\n", fsts, frcd_lo, frcd_hi,
           fault_irqs, used ? "completed the request without its data" : "reports DEVICE_NEEDS_RESET");
    CHECK(fsts & FSTS_PPF);
    CHECK_EQ(frcd_hi >> 63, 1);                 /* F */
    CHECK_EQ((frcd_hi >> 32) & 0xFF, 5);        /* write without permission (non-present) */
    CHECK_EQ((frcd_hi >> 62) & 1, 0);           /* T = 0: a write */
    CHECK_EQ(frcd_hi & 0xFFFF, (uint64_t)dev << 3);
    CHECK_EQ(frcd_lo, ((uint64_t)buffer + IOVA_OFFSET) & ~0xFFFUL);
    CHECK_EQ(fault_irqs, 1);
    CHECK(used || (status() & STATUS_NEEDS_RESET));
    for (int i = 0; i < BUF; i++)
        CHECK_EQ(buffer[i], 0);

    /* Clear the record; with FPD the next refused request leaves none. */
    w64(VTD + 0x228, 1ul << 63);
    mmio_write32(VTD + VTD_FSTS, FSTS_PFO);
    CHECK_EQ(mmio_read32(VTD + VTD_FSTS), 0);
    setup_tables(1, 0);
    l1[(((uint64_t)buffer + IOVA_OFFSET) >> 12) & 0x1FF] = 0;
    invalidate(1 | 1u << 4, 0);
    invalidate(2 | 1u << 4, 0);
    setup_device();
    memset(buffer, 0, sizeof buffer);
    used = request(0);
    for (spins = 0; !used && !(status() & STATUS_NEEDS_RESET) && spins < POLL_LIMIT; spins++)
        __asm__ volatile("pause");
    CHECK(used || (status() & STATUS_NEEDS_RESET));
    CHECK_EQ(mmio_read32(VTD + VTD_FSTS) & FSTS_PPF, 0);
    for (int i = 0; i < BUF; i++)
        CHECK_EQ(buffer[i], 0);
    CHECK_EQ(fault_irqs, 1);
    printf("vtd: with FPD the refused request left no record\n");
    device_tlb();
    return 0;
}
