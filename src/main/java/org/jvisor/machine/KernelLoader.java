package org.jvisor.machine;

import java.nio.file.Path;

import org.jvisor.boot.BootException;
import org.jvisor.boot.ElfImage;
import org.jvisor.boot.KernelFile;
import org.jvisor.boot.TestGuestBoot;
import org.jvisor.cpu.X86State;
import org.jvisor.memory.GuestMemory;

/** Reads -kernel once and loads it into RAM at every (re)boot. */
final class KernelLoader {
    private final KernelFile.Loaded kernel;
    private final ElfImage elf;

    private KernelLoader(KernelFile.Loaded kernel, ElfImage elf) {
        this.kernel = kernel;
        this.elf = elf;
    }

    static KernelLoader read(Path path) throws BootException {
        if (path == null) {
            throw new BootException("no -kernel given: jvisor boots a kernel directly (there is no firmware)");
        }
        KernelFile.Loaded k = KernelFile.read(path);
        return switch (k.format()) {
            case TEST_ELF -> new KernelLoader(k, ElfImage.parse(k.bytes(), "kernel " + path));
            case BZIMAGE, PVH_ELF -> throw new BootException("kernel " + path
                + " is a Linux kernel; booting Linux is not implemented yet (only test-guest ELF64 files run)");
        };
    }

    X86State load(GuestMemory ram) throws BootException {
        return TestGuestBoot.load(elf, ram, kernel.bytes(), "kernel " + kernel.path());
    }
}
