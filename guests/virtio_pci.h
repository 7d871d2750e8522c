/*
 * virtio_pci.h: what the bare virtio drivers among the test guests share (virtio 1.2, 2.7 and 4.1;
 * PCI configuration mechanism #1): register offsets, the split ring's layout for a queue of QSIZE
 * entries (define QSIZE before including this), configuration-space and MMIO accessors, and the
 * mapping of a BAR above the 4 GiB that the entry page tables map. Header-only: each guest is one
 * translation unit.
 */
#ifndef VIRTIO_PCI_H
#define VIRTIO_PCI_H

#include "lib.h"

#ifndef QSIZE
#error "define QSIZE (the queue size) before including virtio_pci.h"
#endif

/* PCI configuration mechanism #1 */
#define PCI_ADDR 0xCF8
#define PCI_DATA 0xCFC
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_BAR0 0x10
#define PCI_CAP_PTR 0x34
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_CAP_VENDOR 0x09

/* virtio_pci_cap.cfg_type (4.1.4) */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

/* struct virtio_pci_common_cfg (4.1.4.3) */
#define COMMON_DEVICE_FEATURE_SELECT 0x00
#define COMMON_DEVICE_FEATURE 0x04
#define COMMON_DRIVER_FEATURE_SELECT 0x08
#define COMMON_DRIVER_FEATURE 0x0c
#define COMMON_NUM_QUEUES 0x12
#define COMMON_DEVICE_STATUS 0x14
#define COMMON_QUEUE_SELECT 0x16
#define COMMON_QUEUE_SIZE 0x18
#define COMMON_QUEUE_ENABLE 0x1c
#define COMMON_QUEUE_NOTIFY_OFF 0x1e
#define COMMON_QUEUE_DESC 0x20
#define COMMON_QUEUE_DRIVER 0x28
#define COMMON_QUEUE_DEVICE 0x30

#define COMMON_CONFIG_MSIX_VECTOR 0x10
#define COMMON_QUEUE_MSIX_VECTOR 0x1a
#define VIRTIO_MSI_NO_VECTOR 0xFFFF

/* MSI-X (PCI 3.0, 6.8.2) and the local APIC (SDM vol. 3, 10.4, 10.11) */
#define PCI_CAP_MSIX 0x11
#define MSIX_ENABLE 0x8000
#define LAPIC 0xFEE00000UL
#define LAPIC_EOI 0x0B0
#define LAPIC_SVR 0x0F0
#define IRQ_VECTOR 0x40

#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define VIRTQ_DESC_F_WRITE 2

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
struct virtq_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[QSIZE];
    uint16_t used_event;
};
struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};
struct virtq_used {
    uint16_t flags;
    uint16_t idx;
    struct virtq_used_elem ring[QSIZE];
    uint16_t avail_event;
};

static inline uint32_t pci_read32(int dev, int off)
{
    outl(PCI_ADDR, 0x80000000u | (uint32_t)dev << 11 | (uint32_t)(off & 0xFC));
    return inl(PCI_DATA);
}

static inline void pci_write32(int dev, int off, uint32_t v)
{
    outl(PCI_ADDR, 0x80000000u | (uint32_t)dev << 11 | (uint32_t)(off & 0xFC));
    outl(PCI_DATA, v);
}

static inline uint16_t pci_read16(int dev, int off) { return (uint16_t)(pci_read32(dev, off) >> ((off & 2) * 8)); }
static inline uint8_t pci_read8(int dev, int off) { return (uint8_t)(pci_read32(dev, off) >> ((off & 3) * 8)); }

static inline void pci_write16(int dev, int off, uint16_t v)
{
    outl(PCI_ADDR, 0x80000000u | (uint32_t)dev << 11 | (uint32_t)(off & 0xFC));
    outw(PCI_DATA + (off & 2), v);
}

static inline void mmio_write8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void mmio_write16(uint64_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint8_t mmio_read8(uint64_t a) { return *(volatile uint8_t *)a; }
static inline uint16_t mmio_read16(uint64_t a) { return *(volatile uint16_t *)a; }
static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write64(uint64_t a, uint64_t v)
{
    mmio_write32(a, (uint32_t)v);
    mmio_write32(a + 4, (uint32_t)(v >> 32));
}
#define barrier() __asm__ volatile("mfence" : : : "memory")

struct cap {
    int bar;
    uint32_t offset;
    uint32_t length;
};

/* A 64-bit BAR may sit above the 4 GiB the entry page tables map (jvisor's pc puts 64-bit BARs above
 * 4 GiB, as QEMU's does): map the GiB that holds it with 2 MiB pages of a page directory of our own. */
static uint64_t high_pd[512] __attribute__((aligned(4096)));

static inline void map_gib(uint64_t a)
{
    uint64_t *pml4 = (uint64_t *)(read_cr3() & ~0xFFFUL);
    CHECK(a < (512UL << 30) && (pml4[0] & 1));
    uint64_t *pdpt = (uint64_t *)(pml4[0] & 0xFFFFFFFFF000UL);
    uint64_t gib = a >> 30;
    if (pdpt[gib] & 1)
        return;
    for (int i = 0; i < 512; i++)
        high_pd[i] = (gib << 30) + ((uint64_t)i << 21) + 0x83; /* present, writable, 2 MiB */
    pdpt[gib] = (uint64_t)high_pd + 0x3;
    write_cr3(read_cr3());
}


/* A virtio PCI function as its capabilities describe it (4.1.4). */
struct vpci {
    int dev;
    struct cap common, notify, isr, devcfg;
    uint32_t notify_multiplier;
};

/* The first function on bus 0 whose vendor/device dword is one of the two given, or -1. */
static inline int vpci_find(uint32_t id, uint32_t alt)
{
    for (int d = 0; d < 32; d++) {
        uint32_t v = pci_read32(d, 0);
        if (v == id || v == alt)
            return d;
    }
    return -1;
}

/* Walks the capability list into v; returns the mask of virtio capability types seen (bit = cfg_type). */
static inline int vpci_walk(struct vpci *v)
{
    CHECK(pci_read16(v->dev, PCI_STATUS) & PCI_STATUS_CAP_LIST);
    int seen = 0;
    for (int p = pci_read8(v->dev, PCI_CAP_PTR) & 0xFC, n = 0; p != 0 && n < 48; p = pci_read8(v->dev, p + 1) & 0xFC, n++) {
        if (pci_read8(v->dev, p) != PCI_CAP_VENDOR)
            continue;
        int type = pci_read8(v->dev, p + 3);
        struct cap c = {pci_read8(v->dev, p + 4), pci_read32(v->dev, p + 8), pci_read32(v->dev, p + 12)};
        struct cap *slot = type == VIRTIO_PCI_CAP_COMMON_CFG ? &v->common
                           : type == VIRTIO_PCI_CAP_NOTIFY_CFG ? &v->notify
                           : type == VIRTIO_PCI_CAP_ISR_CFG ? &v->isr
                           : type == VIRTIO_PCI_CAP_DEVICE_CFG ? &v->devcfg : 0;
        if (slot == 0 || (seen & (1 << type)))
            continue; /* the PCI_CFG window, or a second capability of a type: the first one counts (4.1.4.1) */
        seen |= 1 << type;
        *slot = c;
        if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
            v->notify_multiplier = pci_read32(v->dev, p + 16);
    }
    return seen;
}

/* The address of memory BAR `bar` (32- or 64-bit). */
static inline uint64_t vpci_bar(int dev, int bar)
{
    uint32_t lo = pci_read32(dev, PCI_BAR0 + 4 * bar);
    CHECK((lo & 1) == 0); /* memory BAR */
    uint64_t a = lo & ~0xFu;
    if ((lo & 6) == 4)
        a |= (uint64_t)pci_read32(dev, PCI_BAR0 + 4 * bar + 4) << 32;
    return a;
}

#endif
