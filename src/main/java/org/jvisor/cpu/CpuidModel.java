package org.jvisor.cpu;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The CPUID leaves a guest sees. Built by an engine from what it can offer (KVM's supported list,
 * or what tcg implements), then completed here with the platform's own leaves: the hypervisor bit
 * and the KVM signature leaves (Linux Documentation/virt/kvm/x86/cpuid.rst), so a guest sees the
 * same machine on either engine.
 */
public final class CpuidModel {
    /** CPUID.1:ECX bit 31: running under a hypervisor. */
    public static final int ECX_HYPERVISOR = 1 << 31;
    public static final int KVM_SIGNATURE_LEAF = 0x4000_0000;
    public static final int KVM_FEATURES_LEAF = 0x4000_0001;

    private final List<CpuidEntry> entries;

    public CpuidModel(List<CpuidEntry> entries) {
        this.entries = List.copyOf(entries);
    }

    public List<CpuidEntry> entries() {
        return entries;
    }

    /**
     * What CPUID returns for (function, index). Per the SDM, a function above the highest basic or
     * extended leaf returns the highest basic leaf's data; absent subleaves return zeros.
     */
    public CpuidEntry lookup(int function, int index) {
        CpuidEntry sameFunction = null;
        for (CpuidEntry e : entries) {
            if (e.function() == function) {
                if (!e.indexed() || e.index() == index) {
                    return e;
                }
                sameFunction = e;
            }
        }
        if (sameFunction != null) {
            return new CpuidEntry(function, index, true, 0, 0, 0, 0);
        }
        boolean extended = Integer.compareUnsigned(function, 0x8000_0000) >= 0;
        boolean hypervisor = (function & 0xF000_0000) == 0x4000_0000;
        if (!extended && !hypervisor) {
            CpuidEntry basic = lookupExact(0, 0);
            if (basic != null && Integer.compareUnsigned(function, basic.eax()) > 0) {
                CpuidEntry highest = lookupExact(basic.eax(), 0);
                if (highest != null) {
                    return highest.withRegs(highest.eax(), highest.ebx(), highest.ecx(), highest.edx());
                }
            }
        }
        return new CpuidEntry(function, index, false, 0, 0, 0, 0);
    }

    private CpuidEntry lookupExact(int function, int index) {
        for (CpuidEntry e : entries) {
            if (e.function() == function && (!e.indexed() || e.index() == index)) {
                return e;
            }
        }
        return null;
    }

    /** The signature leaf 0x40000000 ("KVMKVMKVM\0\0\0", highest hypervisor leaf in EAX). */
    public static CpuidEntry kvmSignature() {
        byte[] sig = "KVMKVMKVM\0\0\0".getBytes(StandardCharsets.US_ASCII);
        return new CpuidEntry(KVM_SIGNATURE_LEAF, 0, false, KVM_FEATURES_LEAF,
            le32(sig, 0), le32(sig, 4), le32(sig, 8));
    }

    /** Replaces or adds entries; returns a new model. */
    public CpuidModel with(List<CpuidEntry> replacements) {
        List<CpuidEntry> out = new ArrayList<>();
        for (CpuidEntry e : entries) {
            boolean replaced = false;
            for (CpuidEntry r : replacements) {
                if (r.function() == e.function() && r.index() == e.index()) {
                    replaced = true;
                    break;
                }
            }
            if (!replaced) {
                out.add(e);
            }
        }
        out.addAll(replacements);
        return new CpuidModel(out);
    }

    private static int le32(byte[] b, int o) {
        return (b[o] & 0xFF) | (b[o + 1] & 0xFF) << 8 | (b[o + 2] & 0xFF) << 16 | (b[o + 3] & 0xFF) << 24;
    }
}
