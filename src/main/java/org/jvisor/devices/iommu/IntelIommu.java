package org.jvisor.devices.iommu;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.jvisor.devices.pci.MsiSink;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.GuestMemoryException;
import org.jvisor.memory.IdentityDma;

/**
 * An Intel VT-d DMA and interrupt remapping unit in legacy mode, as QEMU 7.2's intel-iommu shows
 * it to a guest (VT-d spec 4.0): the register file ({@link VtdRegister}) behind
 * {@link #read}/{@link #write}, global commands applied at once (GSTS follows GCMD), root table
 * latching, register-based and queued invalidation, one fault recording register with the fault
 * event interrupt, and the invalidation completion event.
 *
 * <p>Translation ({@link #translate}) is called by the per-device DMA views ({@link IommuDma})
 * on their I/O threads; each caches what it walked, tagged by the domain id of the context entry
 * it came from. Global invalidations (context cache or IOTLB), latching a root table and turning
 * translation on or off move {@link #iotlbEpoch()}, which empties every view. A domain-selective
 * invalidation (context cache or IOTLB) empties only the views holding that domain's
 * translations, a device-selective context-cache invalidation only the views of the source ids
 * it names under its function mask (spec 6.5.1.1, 6.5.1.2, 6.5.2.1, 6.5.2.2), so other domains'
 * cached translations stay, as hardware's may. A page-selective IOTLB invalidation empties the
 * domain's views whole: more than the guest asked for, which the spec allows, never less.
 *
 * <p>Device-TLBs (ECAP.DT, device-iotlb=on; spec ch. 4): a function with ATS enabled keeps the
 * translations it asked for in its own {@link DeviceTlb}, which the epoch does not touch; only a
 * device-TLB invalidate descriptor for its requester id ({@link #invalidateDeviceTlb}) drops
 * them, exactly over the range the descriptor covers. Context entries with TT=01 are accepted
 * only with DT, else they are invalid (fault reason 3).
 *
 * <p>Interrupt remapping ({@link #remapInterrupt}) reads the interrupt remapping table on each
 * message; nothing is cached, so interrupt entry cache invalidations only complete. Fault and
 * completion events are sent through the raw sink, never remapped (spec 5.1.6).
 *
 * <p>Locking: registers and the fault log are guarded by this; the state translation reads
 * (translation enable, the latched root table, the epoch) is published in volatiles.
 */
public final class IntelIommu implements BusDevice, StatefulDevice<IntelIommuState> {
    /** Where QEMU 7.2 puts the unit (Q35_HOST_BRIDGE_IOMMU_ADDR). */
    public static final long BASE = 0xFED9_0000L;
    /** The IOAPIC's source id, as the DMAR's IOAPIC scope gives it (bus 0xFF, device 0, function 0). */
    public static final int IOAPIC_SOURCE_ID = 0xFF00;
    public static final int VERSION = 0x10;

    // GCMD / GSTS bits (11.4.4, 11.4.5)
    static final int TE = 1 << 31, SRTP = 1 << 30, WBF = 1 << 27, QIE = 1 << 26, IRE = 1 << 25,
        SIRTP = 1 << 24, CFI = 1 << 23;
    // FSTS (11.4.9.1)
    static final int PFO = 1, PPF = 1 << 1, IQE = 1 << 4, ICE = 1 << 5, ITE = 1 << 6;
    // FECTL / IECTL
    static final int IM = 1 << 31, IP = 1 << 30;
    static final long FRCD_F = 1L << 63, FRCD_T_READ = 1L << 62;
    static final long CCMD_ICC = 1L << 63, IOTLB_IVT = 1L << 63;

    private final GuestMemory ram;
    private final IdentityDma physical;
    private final MsiSink raw;
    private final Consumer<String> log;
    private final VtdOptions options;
    private final VtdCapabilities caps;
    private final SecondLevelWalk walk;
    private final InterruptRemapping ir;
    private final long[] value = new long[VtdRegister.values().length];
    private final InvalidationQueue queue;

    private volatile boolean translating;
    private volatile long rootTable;
    private volatile int epoch;
    private volatile boolean remapping;
    private volatile long irta;
    private final VtdCounters counters = new VtdCounters();
    /** Every function's view, for device-TLB invalidations by requester id; replaced whole when one is added. */
    private volatile IommuDma[] views = new IommuDma[0];
    static final int LOGGED_GUEST_ERRORS = 10;
    private final java.util.concurrent.atomic.AtomicInteger guestErrors = new java.util.concurrent.atomic.AtomicInteger();

    /**
     * @param ram      guest RAM, where the guest keeps its tables
     * @param physical the untranslated path to RAM (status writes reach RAM through it)
     * @param raw      where fault and completion events go: MSIs that are not remapped
     * @param log      guest errors (bad descriptors), each one line
     */
    public IntelIommu(VtdOptions options, GuestMemory ram, IdentityDma physical, MsiSink raw, Consumer<String> log) {
        this.options = options;
        this.caps = VtdCapabilities.of(options);
        this.ram = ram;
        this.physical = physical;
        this.raw = raw;
        this.log = log;
        this.walk = new SecondLevelWalk(ram, caps);
        this.ir = new InterruptRemapping(ram);
        this.queue = new InvalidationQueue(this, ram);
        reset();
    }

    public VtdOptions options() {
        return options;
    }

    public VtdCapabilities capabilities() {
        return caps;
    }

    /** Counts of what the guest asked for (invalidations by type, faults), for tests and the monitor. */
    public VtdCounters counters() {
        return counters;
    }

    /** Power-on values: everything off, CAP/ECAP/VER constant. */
    public synchronized void reset() {
        java.util.Arrays.fill(value, 0);
        set(VtdRegister.VER, VERSION);
        set(VtdRegister.CAP, caps.cap());
        set(VtdRegister.ECAP, caps.ecap());
        set(VtdRegister.FECTL, IM);
        set(VtdRegister.IECTL, IM);
        translating = false;
        remapping = false;
        rootTable = 0;
        irta = 0;
        epoch++;
        clearDeviceTlbs();
    }

    long get(VtdRegister r) {
        return value[r.ordinal()];
    }

    void set(VtdRegister r, long v) {
        value[r.ordinal()] = r.width == 4 ? v & 0xFFFF_FFFFL : v;
    }

    // ---- register file --------------------------------------------------------------------------

    @Override
    public synchronized long read(long offset, int size) {
        int o = (int) offset;
        if (offset < 0 || offset >= VtdRegister.WINDOW || (o & 3) != 0 || size != 4 && size != 8) {
            return 0;
        }
        VtdRegister r = VtdRegister.at(o);
        if (size == 8 && (r == null || r.width == 4)) {
            return read4(o) | read4(o + 4) << 32;
        }
        return size == 8 ? get(r) : read4(o);
    }

    private long read4(int o) {
        VtdRegister r = VtdRegister.at(o);
        if (r != null) {
            return get(r) & 0xFFFF_FFFFL;
        }
        VtdRegister wide = VtdRegister.at(o & ~7);
        return wide != null && wide.width == 8 && (o & 4) != 0 ? get(wide) >>> 32 : 0;
    }

    @Override
    public synchronized void write(long offset, int size, long v) {
        int o = (int) offset;
        if (offset < 0 || offset >= VtdRegister.WINDOW || (o & 3) != 0 || size != 4 && size != 8) {
            return;   // the spec allows only aligned 32- and 64-bit accesses
        }
        VtdRegister r = VtdRegister.at(o);
        if (size == 8 && (r == null || r.width == 4)) {
            write4(o, v & 0xFFFF_FFFFL);
            write4(o + 4, v >>> 32);
        } else if (size == 8) {
            writeRegister(r, v, -1L);
        } else {
            write4(o, v & 0xFFFF_FFFFL);
        }
    }

    private void write4(int o, long v) {
        VtdRegister r = VtdRegister.at(o);
        if (r != null && r.width == 4) {
            writeRegister(r, v, 0xFFFF_FFFFL);
        } else if (r != null) {
            writeRegister(r, (get(r) & ~0xFFFF_FFFFL) | v, 0xFFFF_FFFFL);
        } else {
            VtdRegister wide = VtdRegister.at(o & ~7);
            if (wide != null && wide.width == 8) {
                writeRegister(wide, (get(wide) & 0xFFFF_FFFFL) | v << 32, 0xFFFF_FFFF_0000_0000L);
            }
        }
    }

    /** A write of {@code v}; {@code written} has the bits the access covered (RW1C and command bits act only there). */
    private void writeRegister(VtdRegister r, long v, long written) {
        switch (r) {
            case VER, CAP, ECAP, GSTS, IQH, AFLOG, PMEN, FRCD_LO -> { }   // read-only (PMEN: no PLMR/PHMR)
            case GCMD -> globalCommand((int) v);
            case RTADDR -> set(r, v & (~0xFFFL | 0xC00L));
            case CCMD -> {
                set(r, v & ~CCMD_ICC);
                if ((written & v & CCMD_ICC) != 0) {
                    contextCommand(v);
                }
            }
            case FSTS -> {
                long s = get(r) & ~(v & (PFO | IQE | ICE | ITE));
                set(r, s);
                clearPendingIfQuiet(VtdRegister.FECTL, s);
                if ((v & IQE) != 0) {
                    queue.resume();
                }
            }
            case FECTL -> eventControl(r, v, VtdRegister.FEADDR, VtdRegister.FEUADDR, VtdRegister.FEDATA);
            case IECTL -> eventControl(r, v, VtdRegister.IEADDR, VtdRegister.IEUADDR, VtdRegister.IEDATA);
            case ICS -> {
                long s = get(r) & ~(v & 1);
                set(r, s);
                if ((s & 1) == 0) {
                    set(VtdRegister.IECTL, get(VtdRegister.IECTL) & ~IP);
                }
            }
            case FEDATA, IEDATA -> set(r, v & 0xFFFF_FFFFL);
            case FEADDR, IEADDR -> set(r, v & 0xFFFF_FFFCL);
            case FEUADDR, IEUADDR -> set(r, v);
            case IQT -> {
                set(r, v & 0x7FFF0L);
                queue.tailWritten();
            }
            case IQA -> set(r, v & (~0xFFFL | 0x807L));
            // EIME (bit 11) is reserved, so reads back 0, unless ECAP.EIM (spec 11.4.9.1)
            case IRTA -> set(r, v & (~0xFFFL | (caps.extendedInterruptMode() ? 0x80FL : 0xFL)));
            case IVA -> set(r, v & (~0xFFFL | 0x7FL));
            case IOTLB -> {
                set(r, v & ~IOTLB_IVT);
                if ((written & v & IOTLB_IVT) != 0) {
                    iotlbCommand(v);
                }
            }
            case FRCD_HI -> {
                if ((written & v & FRCD_F) != 0) {
                    set(r, get(r) & ~FRCD_F);
                    updatePrimaryFaultPending();
                }
            }
        }
    }

    /** GCMD: each bit's effect at once, status in GSTS (spec 11.4.4). */
    private void globalCommand(int cmd) {
        int sts = (int) get(VtdRegister.GSTS);
        if ((cmd & SRTP) != 0) {
            rootTable = get(VtdRegister.RTADDR);
            sts |= SRTP;          // RTPS
            invalidateTranslations();
        }
        if ((cmd & SIRTP) != 0) {
            irta = get(VtdRegister.IRTA);
            sts |= SIRTP;         // IRTPS
        }
        boolean te = (cmd & TE) != 0;
        if (te != translating) {
            translating = te;
            sts = te ? sts | TE : sts & ~TE;
            invalidateTranslations();
        }
        boolean qie = (cmd & QIE) != 0;
        boolean queueOn = qie && (sts & QIE) == 0;
        if (qie != ((sts & QIE) != 0)) {
            if (qie) {
                set(VtdRegister.IQH, 0);
                sts |= QIE;
            } else {
                sts &= ~QIE;
            }
        }
        boolean ire = (cmd & IRE) != 0 && caps.interruptRemapping();
        remapping = ire;
        sts = ire ? sts | IRE : sts & ~IRE;
        sts = (cmd & CFI) != 0 ? sts | CFI : sts & ~CFI;
        set(VtdRegister.GSTS, sts);
        if (queueOn && get(VtdRegister.IQT) != 0) {
            // A tail written before the queue was on: against the spec, but Windows does it, and
            // QEMU 7.2 fetches up to it at once (vtd_handle_gcmd_qie); so does this unit.
            queue.tailWritten();
        }
    }

    boolean queuedInvalidation() {
        return (get(VtdRegister.GSTS) & QIE) != 0;
    }

    /** CCMD with ICC: register-based context-cache invalidation (ignored while QI is on, as the spec leaves it undefined). */
    private void contextCommand(long v) {
        if (queuedInvalidation()) {
            guestError("context-command register written while queued invalidation is on; ignored");
            return;
        }
        int granularity = (int) (v >>> 61) & 3;
        if (granularity == 0) {
            set(VtdRegister.CCMD, get(VtdRegister.CCMD) & ~(3L << 59));   // CAIG 0: not performed
            return;
        }
        counters.contextInvalidations.increment();
        // CIRG 1 global, 2 domain (DID 15:0), 3 device (SID 31:16, FM 33:32): done exactly as asked (CAIG = CIRG)
        invalidateContextCache(granularity, (int) v & 0xFFFF, (int) (v >>> 16) & 0xFFFF, (int) (v >>> 32) & 3);
        set(VtdRegister.CCMD, (get(VtdRegister.CCMD) & ~(3L << 59)) | (long) granularity << 59);
    }

    /** IOTLB register with IVT: register-based IOTLB invalidation. */
    private void iotlbCommand(long v) {
        if (queuedInvalidation()) {
            guestError("IOTLB invalidate register written while queued invalidation is on; ignored");
            return;
        }
        int granularity = (int) (v >>> 60) & 3;
        if (granularity != 0) {
            counters.iotlbInvalidations.increment();
            invalidateIotlb(granularity, (int) (v >>> 32) & 0xFFFF);
        }
        // IAIG: the granularity performed; a page-selective request empties the whole domain (10.4.8.1)
        long iaig = granularity == 3 ? 2 : granularity;
        set(VtdRegister.IOTLB, (get(VtdRegister.IOTLB) & ~(3L << 57)) | iaig << 57);
    }

    /**
     * A context-cache invalidation of {@code granularity} 1 (global), 2 (domain {@code did}) or 3
     * (device: source id {@code sid}, its function bits masked by {@code fm}, spec 6.5.1.1 Table 13).
     */
    void invalidateContextCache(int granularity, int did, int sid, int fm) {
        switch (granularity) {
            case 2 -> invalidateDomain(did);
            case 3 -> {
                int mask = ~((1 << fm) - 1 << (3 - fm)) & 0xFFFF;   // FM 1: bit 2, 2: bits 2:1, 3: bits 2:0
                for (IommuDma v : views) {
                    if ((v.requesterId() & mask) == (sid & mask)) {
                        v.flush();
                    }
                }
            }
            default -> invalidateTranslations();
        }
    }

    /** An IOTLB invalidation of {@code granularity} 1 (global), 2 (domain {@code did}) or 3 (pages of it: the domain). */
    void invalidateIotlb(int granularity, int did) {
        if (granularity == 1) {
            invalidateTranslations();
        } else {
            invalidateDomain(did);
        }
    }

    /** Empties the views that hold, or may be walking to hold, translations of domain {@code did}. */
    private void invalidateDomain(int did) {
        for (IommuDma v : views) {
            int d = v.cachedDomain();
            if (d == did || d == IommuDma.NO_DOMAIN) {
                v.flush();
            }
        }
    }

    /** Drops every cached DMA translation: the next access of every device walks the tables again. */
    void invalidateTranslations() {
        epoch++;
    }

    /** Moves whenever cached translations must go (see the class description). */
    int iotlbEpoch() {
        return epoch;
    }

    private void eventControl(VtdRegister ctl, long v, VtdRegister addr, VtdRegister uaddr, VtdRegister data) {
        long c = get(ctl);
        boolean masked = (v & IM) != 0;
        if (!masked && (c & IP) != 0) {
            sendEvent(addr, uaddr, data);
            c &= ~IP;
        }
        set(ctl, masked ? c | IM : c & ~IM);
    }

    /** An interrupt condition of FECTL/IECTL (spec 7.4.1, 6.5.2.10): sent now unless masked, else left pending. */
    void raiseEvent(VtdRegister ctl, VtdRegister addr, VtdRegister uaddr, VtdRegister data) {
        long c = get(ctl);
        if ((c & IP) != 0) {
            return;
        }
        if ((c & IM) != 0) {
            set(ctl, c | IP);
        } else {
            sendEvent(addr, uaddr, data);
        }
    }

    private void sendEvent(VtdRegister addr, VtdRegister uaddr, VtdRegister data) {
        raw.signal(get(uaddr) << 32 | get(addr), (int) get(data));
    }

    private void clearPendingIfQuiet(VtdRegister ctl, long fsts) {
        if ((fsts & (PFO | PPF | IQE | ICE | ITE)) == 0) {
            set(ctl, get(ctl) & ~IP);
        }
    }

    private void updatePrimaryFaultPending() {
        long s = get(VtdRegister.FSTS);
        s = (get(VtdRegister.FRCD_HI) & FRCD_F) != 0 ? s | PPF : s & ~PPF;
        set(VtdRegister.FSTS, s);
        clearPendingIfQuiet(VtdRegister.FECTL, s);
    }

    /** An invalidation queue error (spec 6.5.2.10): IQE, the fault event; the queue stops at the bad descriptor. */
    void queueError(String why) {
        guestError("invalidation queue error at IQH " + (get(VtdRegister.IQH) >>> 4) + ": " + why);
        set(VtdRegister.FSTS, get(VtdRegister.FSTS) | IQE);
        raiseEvent(VtdRegister.FECTL, VtdRegister.FEADDR, VtdRegister.FEUADDR, VtdRegister.FEDATA);
    }

    /**
     * Wait descriptor: status write (through the untranslated path) and/or completion interrupt.
     * Returns why it cannot complete, or null: a status address that is not RAM is a write the
     * unit cannot carry out, which (as QEMU 7.2's vtd_process_wait_desc, whose failed DMA write
     * ends in IQE) stops the queue at this descriptor with no status and no interrupt (6.5.2.10).
     */
    String waitCompleted(boolean statusWrite, long statusAddress, int statusData, boolean interrupt) {
        if (statusWrite && !ram.isRam(statusAddress, 4)) {
            return String.format("wait descriptor status address %#x is not RAM", statusAddress);
        }
        counters.waits.increment();
        if (statusWrite) {
            physical.writeU32(statusAddress, statusData);
            physical.written(statusAddress, 4);
        }
        if (interrupt) {
            set(VtdRegister.ICS, get(VtdRegister.ICS) | 1);
            raiseEvent(VtdRegister.IECTL, VtdRegister.IEADDR, VtdRegister.IEUADDR, VtdRegister.IEDATA);
        }
        return null;
    }

    // ---- faults ---------------------------------------------------------------------------------

    /**
     * Records a primary fault (spec 7.2.1) in the one fault recording register, unless one is
     * already pending there (then PFO) or PFO is set; raises the fault event for a new record.
     * {@code info} is the page address (DMA) or the interrupt index in bits 63:48 (remapping).
     */
    synchronized void recordFault(int sid, long info, int reason, boolean read) {
        counters.faults.increment();
        long fsts = get(VtdRegister.FSTS);
        if ((fsts & PFO) != 0) {
            return;
        }
        if ((get(VtdRegister.FRCD_HI) & FRCD_F) != 0) {
            set(VtdRegister.FSTS, fsts | PFO);
            raiseEvent(VtdRegister.FECTL, VtdRegister.FEADDR, VtdRegister.FEUADDR, VtdRegister.FEDATA);
            return;
        }
        set(VtdRegister.FRCD_LO, info);
        set(VtdRegister.FRCD_HI, FRCD_F | (read ? FRCD_T_READ : 0) | (long) (reason & 0xFF) << 32 | (sid & 0xFFFF));
        set(VtdRegister.FSTS, (fsts & ~0xFF00L) | PPF);   // FRI 0: the only record
        raiseEvent(VtdRegister.FECTL, VtdRegister.FEADDR, VtdRegister.FEUADDR, VtdRegister.FEDATA);
    }

    // ---- DMA remapping --------------------------------------------------------------------------

    /** Whether DMA is translated (GSTS.TES); off, bus addresses are guest-physical. */
    boolean translating() {
        return translating;
    }

    /**
     * The translation of the page of {@code iova} for requester {@code sid}, in
     * {@link SecondLevelWalk}'s encoding, with access rights checked: a request the entry does not
     * allow, or any fault of the walk, is recorded (unless the context entry has FPD) and returned
     * as a fault. The context entry's domain id goes to {@code domain[0]} once it is read.
     */
    long translate(int sid, long iova, boolean write, int[] domain) {
        if (!translating) {
            return (iova & ~0xFFFL) | SecondLevelWalk.READ | SecondLevelWalk.WRITE;
        }
        counters.walks.increment();
        long r;
        try {
            r = walk.translate(rootTable, sid, iova, write, domain);
        } catch (GuestMemoryException e) {   // a table that stopped being RAM between check and read
            r = SecondLevelWalk.fault(VtdFault.PAGE_TABLE_ACCESS, false);
        }
        if (!SecondLevelWalk.isFault(r) && (r & (write ? SecondLevelWalk.WRITE : SecondLevelWalk.READ)) == 0) {
            r = SecondLevelWalk.fault(write ? VtdFault.WRITE : VtdFault.READ, false);
        }
        if (SecondLevelWalk.isFault(r) && (r & SecondLevelWalk.FAULT_FPD) == 0) {
            recordFault(sid, iova & ~0xFFFL, SecondLevelWalk.reason(r), !write);
        }
        return r;
    }

    /** A DMA view for the PCI function with requester id {@code sid} (bus 15:8, device 7:3, function 2:0). */
    public IommuDma dmaFor(int sid) {
        IommuDma d = unboundDma();
        d.bind(sid);
        return d;
    }

    /** A DMA view whose requester id is given later ({@link IommuDma#bind}), when the bus places the function. */
    public synchronized IommuDma unboundDma() {
        IommuDma d = new IommuDma(this, physical);
        IommuDma[] all = java.util.Arrays.copyOf(views, views.length + 1);
        all[views.length] = d;
        views = all;
        return d;
    }

    // ---- device-TLBs ----------------------------------------------------------------------------

    /**
     * A device-TLB invalidate descriptor (spec 6.5.2.5): the device-TLB of the function with
     * requester id {@code sid}, if it has one, drops its translations of IOVAs {@code first} to
     * {@code last} (unsigned, inclusive). The IOTLB is not touched: that is the IOTLB
     * invalidation's job, which Linux sends first.
     */
    void invalidateDeviceTlb(int sid, long first, long last) {
        for (IommuDma v : views) {
            if (v.requesterId() == sid) {
                v.invalidateDeviceTlb(first, last);
            }
        }
    }

    private void clearDeviceTlbs() {
        for (IommuDma v : views) {
            v.clearDeviceTlb();
        }
    }

    /**
     * One line per function with the ATS capability: its requester id and its device-TLB's hits,
     * misses and invalidations (for -trace), or an empty string.
     */
    public String deviceTlbReport() {
        StringBuilder b = new StringBuilder();
        for (IommuDma v : views) {
            DeviceTlb.Stats st = v.deviceTlbStats();
            int sid = v.requesterId();
            if (st != null) {
                b.append(String.format("device-tlb %02x:%02x.%d (ats %s): %s%n", sid >>> 8, sid >>> 3 & 0x1F, sid & 7,
                    v.atsEnabled() ? "on" : "off", st));
            }
        }
        return b.toString();
    }

    // ---- interrupt remapping --------------------------------------------------------------------

    /**
     * An interrupt request from {@code sid}: the DWORD {@code data} written to {@code address}
     * (0xFEExxxxx). With remapping off, or a compatibility-format request, it goes on as it is
     * (as QEMU 7.2 lets compatibility-format requests through); a remappable request is
     * translated through the interrupt remapping table, or recorded as a fault and dropped.
     */
    public void remapInterrupt(int sid, long address, int data) {
        if (!remapping || (address & InterruptRemapping.FORMAT_REMAPPABLE) == 0) {
            raw.signal(address, data);
            return;
        }
        long irtaNow = irta;
        long message = ir.remap(irtaNow, sid, address, data);
        if (InterruptRemapping.isFault(message)) {
            if ((message & InterruptRemapping.FAULT_FPD) == 0) {
                recordFault(sid, (long) InterruptRemapping.faultIndex(message) << 48,
                    InterruptRemapping.faultReason(message), false);
            }
            return;
        }
        counters.remappedInterrupts.increment();
        raw.signal(InterruptRemapping.messageAddress(message), InterruptRemapping.messageData(message));
    }

    /** Whether the unit remaps to 32-bit x2APIC destinations (ECAP.EIM, -device intel-iommu,eim=on). */
    public boolean extendedInterruptMode() {
        return caps.extendedInterruptMode();
    }

    /** Whether interrupt remapping is enabled (GSTS.IRES). */
    public boolean remapping() {
        return remapping;
    }

    /** Logs a guest error, the first {@value #LOGGED_GUEST_ERRORS} of them (a guest in a loop must not fill the log). */
    void guestError(String msg) {
        int n = guestErrors.getAndIncrement();
        if (n < LOGGED_GUEST_ERRORS) {
            log.accept("intel-iommu: " + msg);
        } else if (n == LOGGED_GUEST_ERRORS) {
            log.accept("intel-iommu: further guest errors are not logged");
        }
    }

    // ---- state ----------------------------------------------------------------------------------

    @Override
    public synchronized IntelIommuState saveState() {
        List<Long> regs = new ArrayList<>();
        for (long v : value) {
            regs.add(v);
        }
        return new IntelIommuState(regs, rootTable, irta);
    }

    @Override
    public synchronized void restoreState(IntelIommuState s) throws DeviceStateException {
        if (s.registers().size() != value.length) {
            throw new DeviceStateException("intel-iommu: " + s.registers().size() + " registers saved, "
                + value.length + " expected");
        }
        if (s.registers().get(VtdRegister.CAP.ordinal()) != caps.cap()
                || s.registers().get(VtdRegister.ECAP.ordinal()) != caps.ecap()) {
            throw new DeviceStateException("intel-iommu: saved with other options (CAP/ECAP differ)");
        }
        for (int i = 0; i < value.length; i++) {
            value[i] = s.registers().get(i);
        }
        rootTable = s.rootTable();
        irta = s.irta();
        int sts = (int) get(VtdRegister.GSTS);
        translating = (sts & TE) != 0;
        remapping = (sts & IRE) != 0 && caps.interruptRemapping();
        epoch++;
        clearDeviceTlbs();   // caches: they fill again from the restored tables (see IntelIommuState)
    }

    @Override
    public Class<IntelIommuState> stateType() {
        return IntelIommuState.class;
    }
}
