package org.jvisor.boot.linux;

import org.jvisor.cpu.X86State;

/**
 * What {@link LinuxBoot#load} did: the boot vCPU's entry state and where everything went.
 *
 * @param setupHeader    the bzImage's header, or null for a vmlinux
 * @param payloadFormat  the compressed payload's format, or null when not decompressed on the host
 * @param kernelStart    lowest address of the loaded kernel
 * @param kernelEnd      end of the memory the kernel needs early (for a bzImage: init_size bytes from where
 *                       it decompresses itself, max(load, pref_address); for a vmlinux: the end of its highest
 *                       PT_LOAD segment); the initrd lies above it
 * @param initrdAddr     0 when there is no initrd
 * @param decompressNanos host-side decompression time, 0 if none
 * @param description    several lines for the log: format, addresses, initrd placement, e820
 */
public record LinuxBootResult(
    X86State entryState,
    Kind kind,
    SetupHeader setupHeader,
    PayloadDecompressor.Format payloadFormat,
    long kernelStart,
    long kernelEnd,
    long entryPoint,
    long zeroPage,
    long cmdlineAddr,
    int cmdlineLength,
    long initrdAddr,
    long initrdSize,
    E820Map e820,
    long decompressNanos,
    String description) {

    public enum Kind {
        /** A bzImage loaded as it is: its own decompressor runs in the guest. */
        BZIMAGE,
        /** A bzImage whose payload was decompressed on the host and booted as the vmlinux inside it. */
        BZIMAGE_HOST_DECOMPRESSED,
        /** An ELF vmlinux. */
        VMLINUX
    }
}
