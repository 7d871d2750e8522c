/*
 * A virtio-rng device driven from user space through VFIO, inside a guest with a (virtual) VT-d
 * unit: what DPDK or a nested VMM does with an assigned device. The program takes the device's
 * IOMMU group and PCI address, gives it a DMA window of its own at an I/O virtual address that is
 * not the buffer's guest-physical address (VFIO_IOMMU_MAP_DMA: the guest kernel writes the
 * unit's second-level tables), brings the device up as a virtio 1.x driver (virtio 1.2, 3.1 and
 * 4.1) with its queue in that window and its MSI-X vector 0 on an eventfd, and reads entropy.
 * The window is two mappings, the rings' and the data buffer's: once the device has filled the
 * buffer, the program unmaps the buffer's (VFIO_IOMMU_UNMAP_DMA: the guest kernel clears the
 * entries and invalidates the unit's IOTLB) and hands the device the same buffer again: the unit
 * must refuse that DMA (the guest kernel logs the unit's fault record for the just-unmapped
 * address) and the window must not change.
 *
 * Usage: vfiorng GROUP BDF, e.g. vfiorng 2 0000:00:03.0. Prints "vfiorng: ..." lines, exits 0 when
 * every check held, 1 (with the reason) otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define QSIZE 8
#define IOVA 0x10000000UL      /* the window's I/O virtual address */
#define WINDOW (64 * 1024)
#define DESC 0x0000
#define AVAIL 0x1000
#define USED 0x2000
#define DATA 0x4000            /* the data buffer's mapping: from here to the end of the window */

/* virtio 1.2, 4.1.4: the capability types and struct virtio_pci_common_cfg */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define COMMON_DFSELECT 0x00
#define COMMON_DF 0x04
#define COMMON_GFSELECT 0x08
#define COMMON_GF 0x0c
#define COMMON_MSIX_CONFIG 0x10
#define COMMON_STATUS 0x14
#define COMMON_Q_SELECT 0x16
#define COMMON_Q_SIZE 0x18
#define COMMON_Q_MSIX 0x1a
#define COMMON_Q_ENABLE 0x1c
#define COMMON_Q_NOFF 0x1e
#define COMMON_Q_DESC 0x20
#define COMMON_Q_DRIVER 0x28
#define COMMON_Q_DEVICE 0x30
#define S_ACKNOWLEDGE 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 0x40
/* feature bits 32 and 33 (VERSION_1, ACCESS_PLATFORM): bits 0 and 1 of the second word */
#define F_HIGH_NEEDED 3u

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

static int device;
static struct vfio_region_info config;

static void fail(const char *what)
{
    printf("vfiorng: FAILED: %s (%s)\n", what, errno ? strerror(errno) : "no errno");
    exit(1);
}

static uint32_t config_read(unsigned off, unsigned size)
{
    uint32_t v = 0;
    if (pread(device, &v, size, (off_t)config.offset + off) != (ssize_t)size)
        fail("reading PCI configuration space");
    return v;
}

static void config_write16(unsigned off, uint16_t v)
{
    if (pwrite(device, &v, 2, (off_t)config.offset + off) != 2)
        fail("writing PCI configuration space");
}

/* A BAR, mapped into this process through the device file (VFIO_REGION_INFO_FLAG_MMAP). */
static volatile uint8_t *map_bar(unsigned bar)
{
    struct vfio_region_info r = {.argsz = sizeof r, .index = VFIO_PCI_BAR0_REGION_INDEX + bar};
    if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &r) < 0 || !(r.flags & VFIO_REGION_INFO_FLAG_MMAP))
        fail("the BAR cannot be mapped");
    void *p = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, device, (off_t)r.offset);
    if (p == MAP_FAILED)
        fail("mmap of the BAR");
    return p;
}

static volatile uint8_t *common;
#define W8(o, v) (*(volatile uint8_t *)(common + (o)) = (v))
#define W16(o, v) (*(volatile uint16_t *)(common + (o)) = (v))
#define W32(o, v) (*(volatile uint32_t *)(common + (o)) = (v))
#define W64(o, v) (W32((o), (uint32_t)(v)), W32((o) + 4, (uint32_t)((uint64_t)(v) >> 32)))
#define R8(o) (*(volatile uint8_t *)(common + (o)))
#define R16(o) (*(volatile uint16_t *)(common + (o)))
#define R32(o) (*(volatile uint32_t *)(common + (o)))

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vfiorng GROUP BDF\n");
        return 2;
    }
    int container = open("/dev/vfio/vfio", O_RDWR);
    if (container < 0 || ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION
        || !ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU))
        fail("no VFIO type 1 container");
    char path[64];
    snprintf(path, sizeof path, "/dev/vfio/%s", argv[1]);
    int group = open(path, O_RDWR);
    struct vfio_group_status status = {.argsz = sizeof status};
    if (group < 0 || ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0 || !(status.flags & VFIO_GROUP_FLAGS_VIABLE))
        fail("the group is not viable (every device in it must be bound to vfio-pci)");
    if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0 || ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0)
        fail("attaching the group to a type 1 container");
    device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
    if (device < 0)
        fail("VFIO_GROUP_GET_DEVICE_FD");
    config = (struct vfio_region_info){.argsz = sizeof config, .index = VFIO_PCI_CONFIG_REGION_INDEX};
    if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &config) < 0)
        fail("configuration space region");

    /* The DMA window: guest memory of ours, mapped at IOVA in the device's domain. */
    uint8_t *window = mmap(NULL, WINDOW, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (window == MAP_FAILED)
        fail("mmap of the DMA window");
    memset(window, 0, WINDOW);
    /* Two mappings, since type 1 unmaps only whole ones: the rings, and the data buffer. */
    struct vfio_iommu_type1_dma_map rings = {
        .argsz = sizeof rings, .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        .vaddr = (uintptr_t)window, .iova = IOVA, .size = DATA};
    struct vfio_iommu_type1_dma_map data = {
        .argsz = sizeof data, .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        .vaddr = (uintptr_t)window + DATA, .iova = IOVA + DATA, .size = WINDOW - DATA};
    if (ioctl(container, VFIO_IOMMU_MAP_DMA, &rings) < 0 || ioctl(container, VFIO_IOMMU_MAP_DMA, &data) < 0)
        fail("VFIO_IOMMU_MAP_DMA");

    /* virtio 1.2, 4.1.4: the common and notification structures from the vendor capabilities */
    config_write16(0x04, (uint16_t)(config_read(0x04, 2) | 0x6));   /* memory space, bus master */
    volatile uint8_t *notify = NULL;
    uint32_t notify_multiplier = 0;
    for (unsigned cap = config_read(0x34, 1) & 0xFC; cap; cap = config_read(cap + 1, 1) & 0xFC) {
        if (config_read(cap, 1) != 0x09)
            continue;
        unsigned type = config_read(cap + 3, 1), bar = config_read(cap + 4, 1);
        uint32_t offset = config_read(cap + 8, 4);
        if (type == CAP_COMMON)
            common = map_bar(bar) + offset;
        else if (type == CAP_NOTIFY && !notify) {
            notify = map_bar(bar) + offset;
            notify_multiplier = config_read(cap + 16, 4);
        }
    }
    if (!common || !notify)
        fail("no virtio common or notification capability");

    /* MSI-X vector 0 signals an eventfd (VFIO_DEVICE_SET_IRQS). */
    int irq = eventfd(0, 0);
    struct {
        struct vfio_irq_set set;
        int32_t fd;
    } irqs = {{.argsz = sizeof irqs, .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
               .index = VFIO_PCI_MSIX_IRQ_INDEX, .start = 0, .count = 1}, irq};
    if (irq < 0 || ioctl(device, VFIO_DEVICE_SET_IRQS, &irqs) < 0)
        fail("MSI-X vector 0 on an eventfd");

    /* virtio 1.2, 3.1.1: reset, acknowledge, negotiate VERSION_1 and ACCESS_PLATFORM */
    W8(COMMON_STATUS, 0);
    while (R8(COMMON_STATUS) != 0)
        ;
    W8(COMMON_STATUS, S_ACKNOWLEDGE | S_DRIVER);
    W32(COMMON_DFSELECT, 1);
    if ((R32(COMMON_DF) & F_HIGH_NEEDED) != F_HIGH_NEEDED)
        fail("the device does not offer VERSION_1 and ACCESS_PLATFORM");
    W32(COMMON_GFSELECT, 0);
    W32(COMMON_GF, 0);
    W32(COMMON_GFSELECT, 1);
    W32(COMMON_GF, F_HIGH_NEEDED);
    W8(COMMON_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
    if (!(R8(COMMON_STATUS) & S_FEATURES_OK))
        fail("FEATURES_OK not accepted");
    W16(COMMON_MSIX_CONFIG, 0xFFFF);
    W16(COMMON_Q_SELECT, 0);
    if (R16(COMMON_Q_SIZE) < QSIZE)
        fail("queue 0 is smaller than 8");
    W16(COMMON_Q_SIZE, QSIZE);
    W16(COMMON_Q_MSIX, 0);
    if (R16(COMMON_Q_MSIX) != 0)
        fail("MSI-X vector 0 not taken for queue 0");
    W64(COMMON_Q_DESC, IOVA + DESC);
    W64(COMMON_Q_DRIVER, IOVA + AVAIL);
    W64(COMMON_Q_DEVICE, IOVA + USED);
    W16(COMMON_Q_ENABLE, 1);
    volatile uint16_t *doorbell = (volatile uint16_t *)(notify + R16(COMMON_Q_NOFF) * notify_multiplier);
    W8(COMMON_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);

    struct desc *desc = (struct desc *)(window + DESC);
    volatile uint16_t *avail = (volatile uint16_t *)(window + AVAIL);   /* flags, idx, ring[] */
    volatile uint16_t *used_idx = (volatile uint16_t *)(window + USED + 2);
    volatile uint32_t *used_len = (volatile uint32_t *)(window + USED + 8);

    /* One 64-byte device-writable buffer in the window. */
    desc[0] = (struct desc){.addr = IOVA + DATA, .len = 64, .flags = 2};
    avail[2] = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    avail[1] = 1;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *doorbell = 0;
    struct pollfd pfd = {.fd = irq, .events = POLLIN};
    if (poll(&pfd, 1, 20000) != 1)
        fail("no MSI-X interrupt through the eventfd within 20 s");
    uint64_t count;
    if (read(irq, &count, sizeof count) != sizeof count || *used_idx != 1 || used_len[0] != 64)
        fail("the used ring does not hold the 64-byte buffer");
    int nonzero = 0;
    printf("vfiorng: 64 random bytes through IOVA 0x%lx: ", IOVA + DATA);
    for (int i = 0; i < 64; i++) {
        nonzero += window[DATA + i] != 0;
        printf("%02x", window[DATA + i]);
    }
    printf("\n");
    if (nonzero < 32)
        fail("the buffer does not look random");

    /*
     * Unmap the data buffer, then hand the device that same buffer again: the unit must refuse
     * the write. What the device does then is the VMM's choice, reported here: jvisor's reports
     * DEVICE_NEEDS_RESET (virtio 1.2, 2.1.1), QEMU 7.2's completes the request with the data
     * dropped. Either way nothing in the window but the used ring may change.
     */
    struct vfio_iommu_type1_dma_unmap unmap = {.argsz = sizeof unmap, .iova = IOVA + DATA, .size = WINDOW - DATA};
    if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0 || unmap.size != WINDOW - DATA)
        fail("VFIO_IOMMU_UNMAP_DMA of the data buffer");
    printf("vfiorng: unmapped IOVA 0x%lx-0x%lx\n", IOVA + DATA, IOVA + WINDOW - 1);
    static uint8_t before[WINDOW];
    desc[1] = (struct desc){.addr = IOVA + DATA, .len = 64, .flags = 2};
    avail[3] = 1;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    avail[1] = 2;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    memcpy(before, window, WINDOW);   /* the device acts on the doorbell only */
    *doorbell = 0;
    for (int i = 0; i < 2000 && !(R8(COMMON_STATUS) & S_NEEDS_RESET) && *used_idx == 1; i++)
        usleep(1000);
    uint8_t s = R8(COMMON_STATUS);
    const char *outcome = s & S_NEEDS_RESET ? "device needs reset" : *used_idx == 2 ? "completed" : "pending";
    printf("vfiorng: DMA to unmapped IOVA 0x%lx: %s (status 0x%02x, used idx %u)\n", IOVA + DATA, outcome, s, *used_idx);
    if (*used_idx == 1 && !(s & S_NEEDS_RESET))
        fail("the device neither completed the request nor reported DEVICE_NEEDS_RESET");
    for (int i = 0; i < WINDOW; i++)
        if (before[i] != window[i] && (i < USED || i >= USED + 0x1000)) {
            printf("vfiorng: window byte 0x%x changed from 0x%02x to 0x%02x\n", i, before[i], window[i]);
            fail("the refused request changed the window");
        }

    /* Reset, unmap the rings, and the window is the process's own again. */
    W8(COMMON_STATUS, 0);
    while (R8(COMMON_STATUS) != 0)
        ;
    unmap = (struct vfio_iommu_type1_dma_unmap){.argsz = sizeof unmap, .iova = IOVA, .size = DATA};
    if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0 || unmap.size != DATA)
        fail("VFIO_IOMMU_UNMAP_DMA of the rings");
    printf("vfiorng: ok\n");
    return 0;
}
