package org.jvisor.boot.linux;

import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.boot.BootException;
import org.jvisor.cpu.Gpr;
import org.jvisor.cpu.X86State;
import org.jvisor.memory.GuestMemory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LinuxBootTest {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    private static LinuxBootResult load(GuestMemory ram, byte[] kernel, byte[] initrd, String cmdline) throws BootException {
        return LinuxBoot.load(ram, kernel, initrd, cmdline, 0, List.of(), false);
    }

    private static String failure(GuestMemory ram, byte[] kernel, byte[] initrd, String cmdline, List<ReservedRange> reserved,
                                  boolean host) {
        return assertThrows(BootException.class, () -> LinuxBoot.load(ram, kernel, initrd, cmdline, 0, reserved, host)).getMessage();
    }

    private static byte[] read(GuestMemory ram, long addr, int n) {
        byte[] b = new byte[n];
        ram.read(addr, b, 0, n);
        return b;
    }

    /** Walks our 4-level tables as the MMU would (2 MiB pages), to check the identity map. */
    private static long translate(GuestMemory ram, long cr3, long va) {
        long pml4e = ram.readU64(cr3 + ((va >>> 39) & 511) * 8);
        assertEquals(3, pml4e & 3);
        long pdpte = ram.readU64((pml4e & 0xF_FFFF_FFFF_F000L) + ((va >>> 30) & 511) * 8);
        assertEquals(3, pdpte & 3);
        long pde = ram.readU64((pdpte & 0xF_FFFF_FFFF_F000L) + ((va >>> 21) & 511) * 8);
        assertEquals(0x83, pde & 0x83);
        return (pde & 0xF_FFFF_FFE0_0000L) | (va & 0x1F_FFFF);
    }

    @Test
    void loadsARelocatableBzImageAtPrefAddressAndEntersStartup64InLongMode() throws BootException {
        TestImages.BzImage bz = new TestImages.BzImage();
        byte[] kernel = bz.build();
        try (GuestMemory ram = GuestMemory.allocate(256 * MIB)) {
            LinuxBootResult r = load(ram, kernel, null, "console=ttyS0 panic=-1");
            assertEquals(LinuxBootResult.Kind.BZIMAGE, r.kind());
            assertEquals(0x100_0000, r.kernelStart());
            assertEquals(0x100_0000 + 0x80_0000, r.kernelEnd());
            assertEquals(0x100_0200, r.entryPoint());
            int pmOffset = 5 * 512;
            assertArrayEquals(java.util.Arrays.copyOfRange(kernel, pmOffset, kernel.length),
                read(ram, 0x100_0000, kernel.length - pmOffset));

            // Zero page: the header copied in at 0x1F1 and the loader's fields.
            long zp = LinuxBoot.ZERO_PAGE_ADDR;
            assertEquals(0x7000, r.zeroPage());
            assertEquals(0xAA55, ram.readU16(zp + 0x1FE) & 0xFFFF);
            assertEquals(SetupHeader.HDRS_MAGIC, ram.readU32(zp + 0x202));
            assertEquals(0x7FF, ram.readU32(zp + 0x238));
            assertEquals((byte) 0xFF, ram.readU8(zp + 0x210));
            assertEquals((byte) 0x81, ram.readU8(zp + 0x211));
            assertEquals(0x100_0000, ram.readU32(zp + 0x214));
            assertEquals(0x20000, ram.readU32(zp + 0x228));
            assertEquals(0, ram.readU32(zp + 0x218));
            assertEquals(0, ram.readU64(zp + 0x70), "no RSDP given");
            assertEquals(3, ram.readU8(zp + 0x1E8));
            assertEquals("console=ttyS0 panic=-1", new String(read(ram, 0x20000, 22), StandardCharsets.US_ASCII));
            assertEquals(0, ram.readU8(0x20000 + 22));
            assertEquals(22, r.cmdlineLength());

            // The CPU: 64-bit mode, paging on, __BOOT_CS/__BOOT_DS, IF clear, RSI -> zero page.
            X86State st = r.entryState();
            assertEquals(0x100_0200, st.rip);
            assertEquals(0x7000, st.get(Gpr.RSI));
            assertEquals(LinuxBoot.STACK_TOP, st.get(Gpr.RSP));
            assertEquals(0, st.get(Gpr.RBP));
            assertEquals(2, st.rflags);
            assertEquals(X86State.CR0_PE | X86State.CR0_ET | X86State.CR0_NE | X86State.CR0_PG, st.cr0);
            assertEquals(X86State.CR4_PAE, st.cr4);
            assertEquals(X86State.EFER_LME | X86State.EFER_LMA, st.efer);
            assertEquals(0x9000, st.cr3);
            assertEquals(0x10, st.cs.selector);
            assertTrue(st.cs.l && st.cs.present && st.cs.s && st.cs.type == 0xB && !st.cs.db);
            for (var seg : List.of(st.ds, st.es, st.ss)) {
                assertEquals(0x18, seg.selector);
                assertEquals(0, seg.base);
                assertEquals(0xFFFF_FFFF, seg.limit);
                assertEquals(3, seg.type);
            }
            assertEquals(0x500, st.gdtr.base);
            assertEquals(0x2F, st.gdtr.limit);
            assertEquals(org.jvisor.boot.LongMode.CODE64_DESC, ram.readU64(0x500 + 0x10));
            assertEquals(org.jvisor.boot.LongMode.DATA_DESC, ram.readU64(0x500 + 0x18));
            assertEquals(0, ram.readU64(0x500));

            // The identity map covers the kernel, zero page, command line and all of the first 4 GiB.
            for (long va : new long[] {0x7000, 0x20000, 0x100_0200, 255 * MIB + 12345, 3 * GIB + 0x1234, 4 * GIB - 1}) {
                assertEquals(va, translate(ram, st.cr3, va));
            }
            assertTrue(r.description().contains("entry (startup_64) at 0x1000200"), r.description());
            assertTrue(r.description().contains("no initrd"), r.description());
        }
    }

    @Test
    void needsRamFromPrefAddressForInitSizeAndSaysHowMuch() throws BootException {
        TestImages.BzImage bz = new TestImages.BzImage();
        bz.initSize = 16 * MIB;
        try (GuestMemory ram = GuestMemory.allocate(32 * MIB)) {
            LinuxBootResult r = load(ram, bz.build(), null, "");
            assertEquals(0x100_0000, r.kernelStart());
            assertEquals(32 * MIB, r.kernelEnd());
        }
        try (GuestMemory ram = GuestMemory.allocate(30 * MIB)) {
            String m = failure(ram, bz.build(), null, "", List.of(), false);
            assertEquals("kernel needs at least 32 MiB of RAM: it is loaded at 0x1000000 and decompresses itself at 0x1000000, "
                + "needing init_size 0x1000000 (16 MiB) there; this guest has 30 MiB", m);
        }
    }

    @Test
    void alignsPrefAddressAndUsesOneMegabyteWithoutOne() throws BootException {
        TestImages.BzImage bz = new TestImages.BzImage();
        bz.prefAddress = 0x110_0000;
        try (GuestMemory ram = GuestMemory.allocate(64 * MIB)) {
            LinuxBootResult r = load(ram, bz.build(), null, "");
            assertEquals(0x120_0000, r.kernelStart(), "rounded up to kernel_alignment");
            assertEquals(0x120_0200, r.entryState().rip);
            bz.prefAddress = 0;
            r = load(ram, bz.build(), null, "");
            assertEquals(0x20_0000, r.kernelStart(), "1 MiB rounded up to kernel_alignment");
            assertEquals(0xA0_0000, r.kernelEnd());
        }
    }

    @Test
    void loadsAKernelThatIsNotRelocatableAtOneMegabyte() throws BootException {
        TestImages.BzImage bz = new TestImages.BzImage();
        bz.relocatable = false;
        try (GuestMemory ram = GuestMemory.allocate(64 * MIB)) {
            LinuxBootResult r = load(ram, bz.build(), null, "");
            assertEquals(0x10_0000, r.kernelStart());
            assertEquals(0x10_0200, r.entryPoint());
            assertEquals(0x100_0000 + 0x80_0000, r.kernelEnd(), "it moves itself to pref_address");
        }
        try (GuestMemory ram = GuestMemory.allocate(20 * MIB)) {
            String m = failure(ram, bz.build(), null, "", List.of(), false);
            assertTrue(m.contains("needs at least 24 MiB") && m.contains("decompresses itself at 0x1000000"), m);
        }
    }

    @Test
    void refusesACommandLineLongerThanCmdlineSizeOrWithANul() throws BootException {
        TestImages.BzImage bz = new TestImages.BzImage();
        bz.cmdlineSize = 16;
        try (GuestMemory ram = GuestMemory.allocate(64 * MIB)) {
            load(ram, bz.build(), null, "0123456789abcdef"); // exactly cmdline_size: fine
            String m = failure(ram, bz.build(), null, "0123456789abcdefg", List.of(), false);
            assertEquals("kernel command line is 17 bytes; this kernel accepts at most 16 (cmdline_size)", m);
            m = failure(ram, bz.build(), null, "a\0b", List.of(), false);
            assertTrue(m.contains("NUL character at position 1"), m);
            m = failure(ram, bz.build(), null, "x".repeat(600_000), List.of(), false);
            assertTrue(m.contains("room for"), m);
        }
    }

    @Test
    void placesTheInitrdAsHighAsAllowedPageAligned() throws BootException {
        byte[] initrd = TestImages.pattern((int) MIB + 123, 9);
        TestImages.BzImage bz = new TestImages.BzImage();
        try (GuestMemory ram = GuestMemory.allocate(256 * MIB)) {
            LinuxBootResult r = load(ram, bz.build(), initrd, "");
            long expect = (256 * MIB - initrd.length) & ~0xFFFL;
            assertEquals(expect, r.initrdAddr());
            assertEquals(initrd.length, r.initrdSize());
            assertArrayEquals(initrd, read(ram, expect, initrd.length));
            assertEquals((int) expect, ram.readU32(0x7000 + 0x218));
            assertEquals(initrd.length, ram.readU32(0x7000 + 0x21C));
            assertEquals(0, ram.readU32(0x7000 + 0xC0));
            assertTrue(r.description().contains(String.format("initrd [%#x, %#x)", expect, expect + initrd.length)));

            bz.initrdAddrMax = 128 * MIB - 1;
            r = load(ram, bz.build(), initrd, "");
            assertEquals((128 * MIB - initrd.length) & ~0xFFFL, r.initrdAddr(), "ends by initrd_addr_max + 1");

            // Below a reserved range at the top of RAM.
            bz.initrdAddrMax = 0x7FFF_FFFF;
            r = LinuxBoot.load(ram, bz.build(), initrd, "", 0,
                List.of(new ReservedRange(255 * MIB, MIB, E820Map.Type.ACPI, "ACPI tables")), false);
            assertEquals((255 * MIB - initrd.length) & ~0xFFFL, r.initrdAddr());
            assertEquals(E820Map.Type.ACPI, r.e820().entries().get(3).type());
        }
    }

    @Test
    void keepsTheInitrdBelowTheHoleAndTheKernelsLimitOnBigGuests() throws BootException {
        byte[] initrd = new byte[4096 * 3];
        TestImages.BzImage bz = new TestImages.BzImage();
        try (GuestMemory ram = GuestMemory.allocate(5 * GIB)) {
            LinuxBootResult r = load(ram, bz.build(), initrd, "");
            assertEquals(2 * GIB - initrd.length, r.initrdAddr(), "initrd_addr_max 0x7fffffff");
            bz.initrdAddrMax = 0xFFFF_FFFFL;
            r = load(ram, bz.build(), initrd, "");
            assertEquals(3 * GIB - initrd.length, r.initrdAddr(), "RAM below the PCI hole ends at 3 GiB");
            assertEquals(4, r.e820().entries().size());
            assertEquals(4, ram.readU8(0x7000 + 0x1E8));
        }
    }

    @Test
    void refusesAnInitrdThatDoesNotFitSayingTheSizes() {
        TestImages.BzImage bz = new TestImages.BzImage();
        try (GuestMemory ram = GuestMemory.allocate(32 * MIB)) {
            String m = failure(ram, bz.build(), new byte[(int) (8 * MIB + 1)], "", List.of(), false);
            assertTrue(m.startsWith("initrd of 8388609 bytes (9 MiB) does not fit"), m);
            assertTrue(m.contains("kernel's end 0x1800000") && m.contains("largest free stretch is 8388608 bytes (8 MiB)"), m);
        }
    }

    @Test
    void passesTheRsdpAndKeepsReservedRangesOutOfUsableRam() throws BootException {
        TestImages.BzImage bz = new TestImages.BzImage();
        try (GuestMemory ram = GuestMemory.allocate(64 * MIB)) {
            LinuxBootResult r = LinuxBoot.load(ram, bz.build(), null, "", 0xE0000,
                List.of(new ReservedRange(0xE0000, 0x20000, E820Map.Type.ACPI, "ACPI tables")), false);
            assertEquals(0xE0000, ram.readU64(0x7000 + 0x70));
            assertTrue(r.description().contains("ACPI RSDP at 0xe0000"));
            assertTrue(r.e820().entries().contains(new E820Map.Entry(0xE0000, 0x20000, E820Map.Type.ACPI)), r.e820().toString());

            // Nothing is loaded over a reserved range: not the kernel's init_size, not the initrd.
            String over = failure(ram, bz.build(), null, "",
                List.of(new ReservedRange(20 * MIB, MIB, E820Map.Type.RESERVED, "device window")), false);
            assertTrue(over.contains("overlaps reserved [[0x000001400000-0x0000014fffff] RESERVED]"), over);

            String m = failure(ram, bz.build(), null, "", List.of(new ReservedRange(0x7000, 0x1000, E820Map.Type.NVS, "NVS")), false);
            assertTrue(m.startsWith("jvisor's boot structures at [0x500, 0xf000) would not be in usable RAM"), m);
            m = failure(ram, bz.build(), null, "", List.of(new ReservedRange(0x20000, 0x1000, E820Map.Type.NVS, "NVS")), false);
            assertTrue(m.startsWith("the kernel command line at [0x20000, 0x20001)"), m);
        }
    }

    @Test
    void passesAnRngSeedAsTheOnlySetupDataNodeOrNoneAtAll() throws BootException {
        TestImages.BzImage bz = new TestImages.BzImage();
        byte[] seed = TestImages.pattern(SetupData.RNG_SEED_BYTES, 7);
        try (GuestMemory ram = GuestMemory.allocate(64 * MIB)) {
            LinuxKernel kernel = LinuxKernel.prepare(bz.build(), false);
            LinuxBootResult r = LinuxBoot.load(ram, kernel, null, "quiet", 0, List.of(), SetupData.rngSeed(seed));
            long node = ram.readU64(LinuxBoot.ZERO_PAGE_ADDR + SetupHeader.OFF_SETUP_DATA);
            assertEquals(LinuxBoot.SETUP_DATA_ADDR, node);
            assertEquals(0, ram.readU64(node), "next: the list has one node");
            assertEquals(SetupData.SETUP_RNG_SEED, ram.readU32(node + 8));
            assertEquals(SetupData.RNG_SEED_BYTES, ram.readU32(node + 12));
            assertArrayEquals(seed, read(ram, node + SetupData.HEADER_BYTES, seed.length));
            assertTrue(node + SetupData.HEADER_BYTES + seed.length <= LinuxBoot.CMDLINE_ADDR, "below the command line");
            assertEquals("quiet", new String(read(ram, LinuxBoot.CMDLINE_ADDR, 5), StandardCharsets.US_ASCII));
            assertTrue(r.description().contains("setup_data at 0x10000: type 9, 32 bytes (RNG seed)"), r.description());
            assertTrue(r.e820().isUsable(node, SetupData.HEADER_BYTES + seed.length), "in RAM the kernel sees");

            // A reboot without a seed leaves no stale pointer behind.
            LinuxBoot.load(ram, kernel, null, "", 0, List.of(), null);
            assertEquals(0, ram.readU64(LinuxBoot.ZERO_PAGE_ADDR + SetupHeader.OFF_SETUP_DATA));

            // A node that would reach the command line, or one over a reserved range, is refused by name.
            String big = assertThrows(BootException.class, () -> LinuxBoot.load(ram, kernel, null, "", 0, List.of(),
                SetupData.rngSeed(new byte[0x10000]))).getMessage();
            assertTrue(big.contains("setup_data of 65552 bytes does not fit below the command line at 0x20000"), big);
            String reserved = assertThrows(BootException.class, () -> LinuxBoot.load(ram, kernel, null, "", 0,
                List.of(new ReservedRange(0x10000, 0x1000, E820Map.Type.NVS, "NVS")), SetupData.rngSeed(seed))).getMessage();
            assertTrue(reserved.startsWith("the setup_data node at [0x10000, 0x10030) would not be in usable RAM"), reserved);
        }
        assertThrows(IllegalArgumentException.class, () -> SetupData.rngSeed(new byte[0]));
    }

    @Test
    void decompressesAGzipOrLz4PayloadOnTheHostAndBootsTheVmlinuxWithTheRealHeader() throws BootException {
        byte[] text = TestImages.pattern(0x3000, 21);
        byte[] data = TestImages.pattern(0x800, 22);
        byte[] vmlinux = TestImages.elf(0x100_0000, true,
            new TestImages.Seg(0xFFFF_FFFF_8100_0000L, 0x100_0000, text, 0x3000),
            new TestImages.Seg(0, 0x100_4000, data, 0x2000));
        for (byte[] payload : List.of(TestImages.gzip(vmlinux), TestImages.lz4LiteralsOnly(vmlinux, true))) {
            TestImages.BzImage bz = new TestImages.BzImage();
            bz.payload = payload;
            bz.cmdlineSize = 100;
            try (GuestMemory ram = GuestMemory.allocate(64 * MIB)) {
                ram.fill(0x100_4000, 0x2000, (byte) 0x55); // stale memory where the bss goes
                LinuxBootResult r = LinuxBoot.load(ram, bz.build(), new byte[100], "root=/dev/vda", 0, List.of(), true);
                assertEquals(LinuxBootResult.Kind.BZIMAGE_HOST_DECOMPRESSED, r.kind());
                assertEquals(payload[0] == 0x1F ? PayloadDecompressor.Format.GZIP : PayloadDecompressor.Format.LZ4_LEGACY,
                    r.payloadFormat());
                assertEquals(0x100_0000, r.entryPoint());
                assertEquals(0x100_0000, r.entryState().rip);
                assertEquals(0x100_0000, r.kernelStart());
                assertEquals(0x100_6000, r.kernelEnd());
                assertArrayEquals(text, read(ram, 0x100_0000, text.length));
                assertArrayEquals(data, read(ram, 0x100_4000, data.length));
                assertArrayEquals(new byte[0x1800], read(ram, 0x100_4800, 0x1800), "bss zeroed");
                assertEquals(100, ram.readU32(0x7000 + 0x238), "the bzImage's own cmdline_size");
                assertEquals(0x7FFF_FFFF, ram.readU32(0x7000 + 0x22C));
                assertEquals(0x7000, r.entryState().get(Gpr.RSI));
                assertEquals((64 * MIB - 4096), r.initrdAddr());
                assertTrue(r.description().contains("decompressed on the host"), r.description());
                assertEquals(r.setupHeader().payloadLength(), payload.length);
            }
        }
    }

    @Test
    void refusesHostDecompressionOfXzButBootsTheSameImageInTheGuest() throws BootException {
        TestImages.BzImage bz = new TestImages.BzImage();
        bz.payload = new byte[] {(byte) 0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 1, 2, 3, 4};
        try (GuestMemory ram = GuestMemory.allocate(64 * MIB)) {
            String m = failure(ram, bz.build(), null, "", List.of(), true);
            assertEquals("kernel payload: payload compressed with xz: host-side decompression not supported, "
                + "boot with decompressOnHost=false", m);
            assertEquals(LinuxBootResult.Kind.BZIMAGE, load(ram, bz.build(), null, "").kind());
            assertFalse(LinuxKernel.canDecompressOnHost(bz.build()));
            TestImages.BzImage gz = new TestImages.BzImage();
            gz.payload = TestImages.gzip(TestImages.elf(0x100_0000, false,
                new TestImages.Seg(0x100_0000, 0x100_0000, new byte[16], 16)));
            assertTrue(LinuxKernel.canDecompressOnHost(gz.build()));
            assertFalse(LinuxKernel.canDecompressOnHost(new byte[4096]));
            bz.payload = new byte[0];
            m = failure(ram, bz.build(), null, "", List.of(), true);
            assertTrue(m.contains("payload_length is 0"), m);
        }
    }

    @Test
    void bootsAVmlinuxWithASynthesizedHeaderConvertingAVirtualEntry() throws BootException {
        byte[] text = TestImages.pattern(0x2000, 5);
        byte[] vmlinux = TestImages.elf(0xFFFF_FFFF_8100_0100L, false,
            new TestImages.Seg(0xFFFF_FFFF_8100_0000L, 0x200_0000, text, 0x10000));
        try (GuestMemory ram = GuestMemory.allocate(128 * MIB)) {
            LinuxBootResult r = load(ram, vmlinux, new byte[5000], "console=ttyS0");
            assertEquals(LinuxBootResult.Kind.VMLINUX, r.kind());
            assertNull(r.setupHeader());
            assertEquals(0x200_0100, r.entryPoint(), "e_entry - p_vaddr + p_paddr");
            assertEquals(0x200_0100, r.entryState().rip);
            assertEquals(0x201_0000, r.kernelEnd());
            assertArrayEquals(text, read(ram, 0x200_0000, text.length));
            assertEquals(0xAA55, ram.readU16(0x7000 + 0x1FE) & 0xFFFF);
            assertEquals(SetupHeader.HDRS_MAGIC, ram.readU32(0x7000 + 0x202));
            assertEquals(0x020F, ram.readU16(0x7000 + 0x206));
            assertEquals((byte) 0xFF, ram.readU8(0x7000 + 0x210));
            assertEquals(2047, ram.readU32(0x7000 + 0x238));
            assertEquals(0x20000, ram.readU32(0x7000 + 0x228));
            assertEquals((128 * MIB - 8192), ram.readU32(0x7000 + 0x218));
            assertEquals(5000, ram.readU32(0x7000 + 0x21C));
            assertTrue(r.description().startsWith("Linux vmlinux (ELF64)"), r.description());
            String m = failure(ram, vmlinux, null, "x".repeat(2048), List.of(), false);
            assertTrue(m.contains("at most 2047"), m);
        }
    }

    @Test
    void refusesVmlinuxFilesThatCannotBeLoaded() {
        byte[] text = new byte[0x100];
        try (GuestMemory ram = GuestMemory.allocate(32 * MIB)) {
            byte[] low = TestImages.elf(0x8000, false, new TestImages.Seg(0x8000, 0x8000, text, 0x100));
            assertTrue(failure(ram, low, null, "", List.of(), false).contains("lies below 1 MiB"));
            byte[] big = TestImages.elf(0x100_0000, false, new TestImages.Seg(0x100_0000, 0x100_0000, text, 40 * MIB));
            String m = failure(ram, big, null, "", List.of(), false);
            assertTrue(m.contains("needs at least 56 MiB of RAM; this guest has 32 MiB"), m);
            byte[] lost = TestImages.elf(0x300_0000, false, new TestImages.Seg(0x100_0000, 0x100_0000, text, 0x100));
            assertTrue(failure(ram, lost, null, "", List.of(), false).contains("entry point 0x3000000 lies in no PT_LOAD segment"));
            String junk = failure(ram, new byte[1000], null, "", List.of(), false);
            assertTrue(junk.startsWith("kernel is neither a Linux bzImage"), junk);
        }
    }

    @Test
    void reloadingOverUsedMemoryGivesTheSameState() throws BootException {
        TestImages.BzImage bz = new TestImages.BzImage();
        try (GuestMemory ram = GuestMemory.allocate(64 * MIB)) {
            ram.fill(0, 0x30000, (byte) 0xCC);
            load(ram, bz.build(), null, "a");
            byte[] zp = read(ram, 0x7000, 4096);
            ram.fill(0, 0x30000, (byte) 0x33);
            load(ram, bz.build(), null, "a");
            assertArrayEquals(zp, read(ram, 0x7000, 4096));
            assertFalse(ram.readU64(0x9000 + 8) != 0, "only PML4[0] is present");
        }
    }

    @Test
    void aPreparedKernelLoadsAgainAtEveryBootWithoutDecompressingAgain() throws BootException {
        byte[] vmlinux = TestImages.elf(0x100_0000, false,
            new TestImages.Seg(0xFFFF_FFFF_8100_0000L, 0x100_0000, TestImages.pattern(0x1000, 3), 0x1000));
        TestImages.BzImage bz = new TestImages.BzImage();
        bz.payload = TestImages.gzip(vmlinux);
        LinuxKernel k = LinuxKernel.prepare(bz.build(), true);
        assertEquals(LinuxBootResult.Kind.BZIMAGE_HOST_DECOMPRESSED, k.kind());
        assertEquals(PayloadDecompressor.Format.GZIP, k.payloadFormat());
        assertEquals(vmlinux.length, k.vmlinuxSize());
        assertEquals(1, k.elf().segments().size());
        try (GuestMemory ram = GuestMemory.allocate(64 * MIB)) {
            LinuxBootResult first = LinuxBoot.load(ram, k, null, "one", 0, List.of(), null);
            ram.fill(0x100_0000, 0x1000, (byte) 0);
            LinuxBootResult second = LinuxBoot.load(ram, k, new byte[10], "two", 0, List.of(), null);
            assertEquals(first.entryPoint(), second.entryPoint());
            assertArrayEquals(TestImages.pattern(0x1000, 3), read(ram, 0x100_0000, 0x1000));
            assertEquals("two", new String(read(ram, 0x20000, 3), StandardCharsets.US_ASCII));
        }
    }

    @Test
    void refusesOddInputsSayingWhy() {
        TestImages.BzImage bz = new TestImages.BzImage();
        try (GuestMemory ram = GuestMemory.allocate(64 * MIB)) {
            String m = assertThrows(BootException.class,
                () -> LinuxBoot.load(ram, bz.build(), null, "", -5, List.of(), false)).getMessage();
            assertTrue(m.contains("RSDP address 0xfffffffffffffffb is not a physical address"), m);

            // The protected-mode part is a few bytes over init_size (syssize rounds down to 16-byte paragraphs).
            TestImages.BzImage big = new TestImages.BzImage();
            big.payload = new byte[0x105];
            big.initSize = 0x500;
            m = failure(ram, big.build(), null, "", List.of(), false);
            assertTrue(m.contains("protected-mode part (1285 bytes) is larger than init_size (1280 bytes)"), m);

            byte[] empty = TestImages.elf(0x100_0000, false, new TestImages.Seg(0x100_0000, 0x100_0000, new byte[0], 0));
            m = failure(ram, empty, null, "", List.of(), false);
            assertTrue(m.contains("entry point 0x1000000 lies in no PT_LOAD segment") || m.contains("every PT_LOAD segment is empty"), m);
        }
    }
}
