/*
 * virtioblk: a virtio-blk PCI function driven from scratch (virtio 1.2, 4.1 and 5.2), the same for
 * jvisor's own virtio-blk-pci and for vhost-user-blk-pci (whose queue another process serves).
 * Asserts: 1af4:1042 (or QEMU's transitional 1af4:1001) on bus 0 with the common, notify, ISR and
 * device configuration capabilities; VERSION_1 accepted; a capacity of at least 64 KiB; MSI-X
 * vector 0 (to the local APIC, vector 0x40, 8259s masked) for queue 0, set before DRIVER_OK as
 * Linux does. Then:
 *  1. REQUESTS requests of 4 KiB, alternately a write of a block and a read of it back, each waiting
 *     in HLT for its MSI-X interrupt: status OK, used id and len exact, the read gives what was
 *     written (a stamp per 512-byte sector, so the guest's own work per request stays small);
 *  2. vector 0 masked: a write completes in the used ring, no interrupt arrives, vector 0's
 *     pending bit (PBA) gets set; unmasked, the interrupt arrives and the bit clears. The same with
 *     the function masked (Function Mask) for a read;
 *  3. vector 0's message changed (masked meanwhile, as drivers do) to vector 0x41: 4 more requests
 *     each interrupt on 0x41, none on 0x40;
 *  4. a reset: the status reads 0.
 * On kvm with vhost-user, the interrupts of 1 and 3 are the backend's call eventfd bound in the
 * kernel (irqfd); 2 goes through jvisor. A backend may signal once more than it completes (a
 * spurious call), so completion is the used index, and each request needs at least one interrupt.
 */
#ifndef REQUESTS
#define REQUESTS 32
#endif
#define QSIZE 8
#define BLOCK 4096
#define SECTOR 512
#define IRQ_VECTOR_2 0x41
#define POLL_LIMIT 20000000UL
#define PENDING_LIMIT 200000UL /* PBA reads (each an exit to the VMM) after a masked completion: the VMM sets the bit at once */
#define STAMP 0x6a76697372626c6bUL /* "jvisrblk" */

#include "virtio_pci.h"

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_S_OK 0

struct blk_req {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

static struct virtq_desc desc[QSIZE] __attribute__((aligned(16)));
static struct virtq_avail avail __attribute__((aligned(2)));
static struct virtq_used used __attribute__((aligned(4)));
static struct blk_req hdr __attribute__((aligned(16)));
static uint8_t data[BLOCK] __attribute__((aligned(4096)));
static volatile uint8_t status;

static struct vpci v;
static int dev;
static uint64_t base, common, notify_addr, msix_entry, pba;
static int msix_cap;
static uint16_t last_used;
static uint64_t blocks;

static volatile unsigned irqs, irqs2;

static void on_irq(struct frame *f)
{
    (void)f;
    irqs++;
    mmio_write32(LAPIC + LAPIC_EOI, 0);
}

static void on_irq2(struct frame *f)
{
    (void)f;
    irqs2++;
    mmio_write32(LAPIC + LAPIC_EOI, 0);
}

static uint64_t bar_of(int bir)
{
    uint64_t a = vpci_bar(dev, bir);
    CHECK(a != 0);
    map_gib(a);
    return a;
}

/* MSI-X vector 0 -> IRQ_VECTOR on APIC ID 0 (fixed, edge), unmasked; MSI-X enabled; the IDT and LAPIC ready. */
static void setup_msix(void)
{
    int p = pci_read8(dev, PCI_CAP_PTR) & 0xFC;
    for (int n = 0; p != 0 && pci_read8(dev, p) != PCI_CAP_MSIX && n < 48; n++)
        p = pci_read8(dev, p + 1) & 0xFC;
    if (p == 0 || pci_read8(dev, p) != PCI_CAP_MSIX)
        fail("no MSI-X capability");
    msix_cap = p;
    uint32_t table = pci_read32(dev, p + 4);
    uint32_t pbaw = pci_read32(dev, p + 8);
    msix_entry = bar_of(table & 7) + (table & ~7u);
    pba = bar_of(pbaw & 7) + (pbaw & ~7u);
    mmio_write32(msix_entry + 0, (uint32_t)LAPIC);
    mmio_write32(msix_entry + 4, 0);
    mmio_write32(msix_entry + 8, IRQ_VECTOR);
    mmio_write32(msix_entry + 12, 0);
    pci_write16(dev, p + 2, pci_read16(dev, p + 2) | MSIX_ENABLE);

    idt_init();
    set_handler(IRQ_VECTOR, on_irq);
    set_handler(IRQ_VECTOR_2, on_irq2);
    outb(0x21, 0xFF); /* 8259s masked (firmware under QEMU leaves the PIT ticking on them) */
    outb(0xA1, 0xFF);
    mmio_write32(LAPIC + LAPIC_SVR, 0x1FF);
}

static void set_status(uint8_t s) { mmio_write8(common + COMMON_DEVICE_STATUS, s); }
static uint8_t get_status(void) { return mmio_read8(common + COMMON_DEVICE_STATUS); }

static void setup_device(void)
{
    set_status(0);
    CHECK_EQ(get_status(), 0);
    set_status(STATUS_ACKNOWLEDGE);
    set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    mmio_write32(common + COMMON_DEVICE_FEATURE_SELECT, 1);
    CHECK(mmio_read32(common + COMMON_DEVICE_FEATURE) & 1); /* VIRTIO_F_VERSION_1 */
    mmio_write32(common + COMMON_DRIVER_FEATURE_SELECT, 0);
    mmio_write32(common + COMMON_DRIVER_FEATURE, 0);
    mmio_write32(common + COMMON_DRIVER_FEATURE_SELECT, 1);
    mmio_write32(common + COMMON_DRIVER_FEATURE, 1);
    set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    CHECK(get_status() & STATUS_FEATURES_OK);
    uint64_t cfg = base + v.devcfg.offset;
    uint64_t sectors = mmio_read32(cfg) | (uint64_t)mmio_read32(cfg + 4) << 32;
    CHECK(sectors >= 128);
    blocks = sectors / (BLOCK / SECTOR);

    mmio_write16(common + COMMON_CONFIG_MSIX_VECTOR, VIRTIO_MSI_NO_VECTOR);
    mmio_write16(common + COMMON_QUEUE_SELECT, 0);
    uint16_t max = mmio_read16(common + COMMON_QUEUE_SIZE);
    CHECK(max >= QSIZE);
    mmio_write16(common + COMMON_QUEUE_SIZE, QSIZE);
    mmio_write64(common + COMMON_QUEUE_DESC, (uint64_t)desc);
    mmio_write64(common + COMMON_QUEUE_DRIVER, (uint64_t)&avail);
    mmio_write64(common + COMMON_QUEUE_DEVICE, (uint64_t)&used);
    mmio_write16(common + COMMON_QUEUE_MSIX_VECTOR, 0);
    CHECK_EQ(mmio_read16(common + COMMON_QUEUE_MSIX_VECTOR), 0);
    uint16_t notify_off = mmio_read16(common + COMMON_QUEUE_NOTIFY_OFF);
    notify_addr = base + v.notify.offset + (uint64_t)notify_off * v.notify_multiplier;
    mmio_write16(common + COMMON_QUEUE_ENABLE, 1);
    set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    CHECK_EQ(get_status(), STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    printf("virtioblk: device ready, %lu blocks of 4 KiB, queue 0 size %d of %u\n", blocks, QSIZE, max);
}

static uint64_t stamp(uint64_t block, int s) { return STAMP ^ (block << 8) ^ (uint64_t)s; }

/* Posts request n (a write of `block` when `write`, else a read of it) as a 3-descriptor chain and notifies. */
static void post(uint64_t block, int write)
{
    hdr.type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
    hdr.reserved = 0;
    hdr.sector = block * (BLOCK / SECTOR);
    for (int s = 0; s < BLOCK / SECTOR; s++)
        ((volatile uint64_t *)data)[s * SECTOR / 8] = write ? stamp(block, s) : 0;
    status = 0xFF;
    desc[0] = (struct virtq_desc){(uint64_t)&hdr, sizeof hdr, 1 /* NEXT */, 1};
    desc[1] = (struct virtq_desc){(uint64_t)data, BLOCK, (uint16_t)(1 | (write ? 0 : VIRTQ_DESC_F_WRITE)), 2};
    desc[2] = (struct virtq_desc){(uint64_t)&status, 1, VIRTQ_DESC_F_WRITE, 0};
    avail.ring[avail.idx % QSIZE] = 0;
    barrier();
    avail.idx++;
    barrier();
    mmio_write16(notify_addr, 0);
}

static int completed(void) { return *(volatile uint16_t *)&used.idx != last_used; }

/* The used element of the request just completed: id 0, len = bytes written by the device, status OK, data right. */
static void check_done(uint64_t block, int write, unsigned n)
{
    barrier();
    struct virtq_used_elem e = used.ring[last_used % QSIZE];
    last_used++;
    CHECK_EQ(*(volatile uint16_t *)&used.idx, last_used);
    CHECK_EQ(e.id, 0);
    if (status != VIRTIO_BLK_S_OK)
        failf("request %u (%s of block %lu): status %u", n, write ? "write" : "read", block, status);
    CHECK_EQ(e.len, write ? 1u : BLOCK + 1u);
    if (!write)
        for (int s = 0; s < BLOCK / SECTOR; s++)
            if (((volatile uint64_t *)data)[s * SECTOR / 8] != stamp(block, s))
                failf("request %u: block %lu sector %d reads %#lx, not what was written", n, block, s,
                      ((volatile uint64_t *)data)[s * SECTOR / 8]);
}

/* One request that waits in HLT for its interrupt (on *counter); completion is the used index. */
static void request_irq(uint64_t block, int write, unsigned n, volatile unsigned *counter)
{
    unsigned before = *counter;
    post(block, write);
    unsigned long waits = 0;
    /* STI's one-instruction shadow covers HLT: an interrupt already pending wakes it. */
    while (!completed() || *counter == before) {
        if (++waits == POLL_LIMIT / 1000)
            failf("request %u: no completion with an interrupt after %lu waits (used %u, interrupts %u)", n, waits,
                  *(volatile uint16_t *)&used.idx, *counter - before);
        __asm__ volatile("sti; hlt; cli" : : : "memory");
    }
    check_done(block, write, n);
}

static int pending0(void) { return mmio_read32(pba) & 1; }

/* A masked request: completes without an interrupt and sets vector 0's pending bit; `unmask` then delivers it. */
static void request_masked(uint64_t block, int write, unsigned n, void (*unmask)(void), const char *how)
{
    unsigned before = irqs;
    CHECK(!pending0());
    post(block, write);
    unsigned long spins = 0;
    while (!completed()) {
        if (++spins == POLL_LIMIT)
            failf("%s: request %u never completed", how, n);
        __asm__ volatile("pause");
    }
    check_done(block, write, n);
    for (spins = 0; !pending0(); spins++) {
        if (spins == PENDING_LIMIT)
            failf("%s: the request completed but vector 0's pending bit stays clear (interrupts %u)", how, irqs - before);
        __asm__ volatile("pause");
    }
    __asm__ volatile("sti; nop; nop; cli" : : : "memory");
    CHECK_EQ(irqs, before); /* masked: nothing delivered */
    unmask();
    unsigned long waits = 0;
    while (irqs == before) {
        if (++waits == POLL_LIMIT / 1000)
            failf("%s: no interrupt after the unmask", how);
        __asm__ volatile("sti; hlt; cli" : : : "memory");
    }
    CHECK(!pending0());
    printf("virtioblk: %s: completed without an interrupt, pending bit set; delivered on unmask\n", how);
}

static void mask_vector(void) { mmio_write32(msix_entry + 12, 1); }
static void unmask_vector(void) { mmio_write32(msix_entry + 12, 0); }
static void mask_function(void) { pci_write16(dev, msix_cap + 2, pci_read16(dev, msix_cap + 2) | 0x4000); }
static void unmask_function(void) { pci_write16(dev, msix_cap + 2, pci_read16(dev, msix_cap + 2) & ~0x4000); }

int main(void)
{
    dev = vpci_find(0x10421AF4, 0x10011AF4); /* modern, or QEMU's transitional default */
    if (dev < 0)
        fail("no virtio-blk (1af4:1042 or 1af4:1001) on PCI bus 0");
    printf("virtioblk: found 1af4:%04x at 00:%02x.0\n", pci_read16(dev, 2), dev);
    v.dev = dev;
    CHECK((vpci_walk(&v) & 0x1E) == 0x1E); /* common, notify, ISR, device configuration */
    base = vpci_bar(dev, v.common.bar);
    CHECK(base != 0 && v.notify.bar == v.common.bar && v.devcfg.bar == v.common.bar);
    map_gib(base);
    common = base + v.common.offset;
    pci_write16(dev, PCI_COMMAND, pci_read16(dev, PCI_COMMAND) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    setup_msix();
    setup_device();

    /* 1: writes and reads, each completion by its MSI-X interrupt. */
    for (unsigned n = 0; n < REQUESTS; n++)
        request_irq((n / 2) % blocks, (n & 1) == 0, n, &irqs);
    printf("virtioblk: %u requests of 4 KiB (writes and reads back), each with its MSI-X interrupt\n", REQUESTS);

    /* 2: masked vector, then masked function. */
    mask_vector();
    request_masked(1, 1, REQUESTS, unmask_vector, "vector masked");
    mask_function();
    request_masked(1, 0, REQUESTS + 1, unmask_function, "function masked");

    /* 3: a new message for vector 0 (vector 0x41), changed while masked. */
    unsigned before = irqs;
    mask_vector();
    mmio_write32(msix_entry + 8, IRQ_VECTOR_2);
    unmask_vector();
    for (unsigned n = 0; n < 4; n++)
        request_irq(2 + n % 2, n % 2 == 0, REQUESTS + 2 + n, &irqs2);
    CHECK(irqs2 >= 4);
    CHECK_EQ(irqs, before);
    printf("virtioblk: 4 requests after vector 0 moved to interrupt %#x, each with its interrupt there\n", IRQ_VECTOR_2);

    /* 4: reset. */
    set_status(0);
    CHECK_EQ(get_status(), 0);
    return 0;
}
