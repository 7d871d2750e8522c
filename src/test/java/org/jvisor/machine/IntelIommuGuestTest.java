package org.jvisor.machine;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.RequiredTools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Debian's kernel on {@code -M q35 -device intel-iommu} with virtio-blk and virtio-rng behind it
 * (iommu_platform=on): the guest finds the DMAR, turns on DMA and interrupt remapping, puts every
 * PCI function in an IOMMU group, and its disk and entropy work through the translation with
 * strict invalidation (one invalidation and wait per unmap) and the default lazy one; iommu=pt
 * and intel_iommu=off boot too, and so does a 48-bit unit in caching mode without interrupt
 * remapping (4-level tables, an invalidation after every map). With eim=on two vCPUs run in
 * x2APIC mode and the interrupts are remapped to their 32-bit cluster destinations. Each boot
 * compares what the guest read with what the host wrote. The strict boot has device-iotlb=on
 * and ats=on: the functions keep device-TLBs that Linux's device-IOTLB invalidations flush. The
 * lazy boot also has virtio-net behind the unit on -netdev user, and moves files both ways
 * (the strict one is VirtioNetGuestTest's, which needs a TAP device).
 */
@GuestTest
class IntelIommuGuestTest {
    private static GuestBuilder.Guest guest;

    @BeforeAll
    static void buildGuest() throws IOException {
        guest = DemoGuest.build();
    }

    /** A 32 MiB image of random bytes (seeded), its md5 and the md5 of the MiB at 4 MiB. */
    private record Disk(Path path, String md5, String mib4Md5) {
    }

    private static Disk disk(Path dir) throws Exception {
        byte[] image = new byte[32 << 20];
        new Random(15).nextBytes(image);
        Path p = dir.resolve("disk.img");
        Files.write(p, image);
        MessageDigest md5 = MessageDigest.getInstance("MD5");
        String all = HexFormat.of().formatHex(md5.digest(image));
        md5.update(image, 4 << 20, 1 << 20);
        return new Disk(p, all, HexFormat.of().formatHex(md5.digest()));
    }

    private static JvisorProcess.Result boot(Disk d, String append, String iommu, int cpus, String cmd) throws Exception {
        return boot(d, append, iommu, cpus, "", cmd, List.of());
    }

    /**
     * {@code pciProperties} go after iommu_platform=on,disable-legacy=on of both virtio functions;
     * {@code more} are further options (devices).
     */
    private static JvisorProcess.Result boot(Disk d, String append, String iommu, int cpus, String pciProperties, String cmd,
            List<String> more) throws Exception {
        List<String> args = new ArrayList<>(List.of("-accel", "tcg", "-M", "q35", "-m", "512M", "-nographic", "-no-reboot",
            "-smp", Integer.toString(cpus),
            "-trace", "exits",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
            "-append", DemoGuest.CONSOLE + " " + append + " jvisor.cmd=b64:"
                + Base64.getEncoder().encodeToString(cmd.getBytes(StandardCharsets.US_ASCII)),
            "-device", iommu,
            "-drive", "id=d0,file=" + d.path() + ",format=raw,if=none",
            "-device", "virtio-blk-pci,drive=d0,iommu_platform=on,disable-legacy=on" + pciProperties,
            "-device", "virtio-rng-pci,iommu_platform=on,disable-legacy=on" + pciProperties));
        args.addAll(more);
        JvisorProcess.Result r = JvisorProcess.run(args.toArray(new String[0]));
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.stdout().contains("jvisor-guest: command exited with status 0"), r.toString());
        assertFalse(r.stderr().contains("intel-iommu:") || r.stderr().contains("needs reset"), "no guest errors: " + r);
        return r;
    }

    private static final String CHECKS = String.join("; ",
        "dmesg | grep -e DMAR -e iommu",
        "echo iommus=$(ls /sys/class/iommu)",
        "for d in /sys/bus/pci/devices/*; do [ -e $d/iommu_group ] && echo grouped ${d##*/} || echo ungrouped ${d##*/}; done",
        "md5sum /dev/vda",
        "dd if=/dev/vda bs=1M skip=4 count=1 2>/dev/null | md5sum",
        "echo rng-bytes=$(head -c 65536 /dev/hwrng | wc -c)",
        "grep -e IR-PCI-MSI -e IR-IO-APIC /proc/interrupts || echo no-remapped-interrupts");

    /**
     * With device-iotlb=on and ats=on: Linux enables ATS on both functions (the ATS Control
     * register at 0x104 of their configuration space reads Enable), gives them TT=01 context
     * entries and follows each IOTLB invalidation with a device-IOTLB one for the same range; the
     * functions' DMA goes through their device-TLBs (hits in -trace), and the data stays intact,
     * which it would not if an invalidation dropped less than it covers (IOVAs are reused).
     */
    @Test
    void dmaAndInterruptRemappingWithStrictInvalidationAndDeviceTlbs(@TempDir Path dir) throws Exception {
        Disk d = disk(dir);
        String cmd = CHECKS + "; " + String.join("; ",
            "for f in 01 02; do echo ats-$f $(od -A n -t x2 -j 256 -N 8 /sys/bus/pci/devices/0000:00:$f.0/config); done",
            "dd if=/dev/urandom of=/tmp/pattern bs=1M count=8 2>/dev/null",
            "echo pattern-md5=$(md5sum < /tmp/pattern)",
            "dd if=/tmp/pattern of=/dev/vda bs=1M seek=16 conv=fsync 2>/dev/null",
            "echo 3 > /proc/sys/vm/drop_caches",
            "echo readback-md5=$(dd if=/dev/vda bs=1M skip=16 count=8 2>/dev/null | md5sum)");
        var r = boot(d, "intel_iommu=on iommu.strict=1", "intel-iommu,device-iotlb=on", 1, ",ats=on", cmd, List.of());
        String out = r.stdout();
        assertTrue(out.contains("DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap d2008c22260206 ecap f00f4e"), "ECAP.DT: " + r);
        assertTrue(out.contains("DMAR: ATSR flags: 0x1"), r.toString());
        // ATS extended capability at 0x100 (ID 0xF, version 1), page aligned requests, Enable set by Linux
        assertTrue(out.contains("ats-01 000f 0001 0020 8000") && out.contains("ats-02 000f 0001 0020 8000"), r.toString());
        assertTrue(out.contains("DMAR-IR: Enabled IRQ remapping in xapic mode"), r.toString());
        assertTrue(out.contains("DMAR: dmar0: Using Queued invalidation"), r.toString());
        assertTrue(out.contains("iommu: DMA domain TLB invalidation policy: strict mode"), r.toString());
        assertTrue(out.contains("iommus=dmar0"), r.toString());
        assertTrue(out.contains("grouped 0000:00:01.0") && out.contains("grouped 0000:00:02.0")
            && out.lines().noneMatch(l -> l.startsWith("ungrouped")), "every PCI function has an IOMMU group: " + r);
        assertTrue(out.contains(d.md5() + "  /dev/vda"), "the whole disk read through the IOMMU: " + r);
        assertTrue(out.contains(d.mib4Md5() + "  -"), r.toString());
        assertTrue(out.contains("rng-bytes=65536"), r.toString());
        assertTrue(out.lines().anyMatch(l -> l.matches("\\s*\\d+:\\s+[1-9]\\d*\\s+IR-PCI-MSI\\s+\\d+-edge\\s+virtio0-req.0")),
            "remapped MSI-X of the disk: " + r);
        assertTrue(out.lines().anyMatch(l -> l.matches("\\s*0:\\s+[1-9]\\d*\\s+IR-IO-APIC\\s+2-edge\\s+timer")),
            "the timer through a remapped IOAPIC entry: " + r);
        Matcher written = Pattern.compile("pattern-md5=([0-9a-f]{32})").matcher(out);
        Matcher read = Pattern.compile("readback-md5=([0-9a-f]{32})").matcher(out);
        assertTrue(written.find() && read.find(), r.toString());
        assertEquals(written.group(1), read.group(1), "8 MiB written and read back through the IOMMU");
        // strict mode: an IOTLB and a device-IOTLB invalidation and a wait per unmap; 40 MiB moved in at most 128 KiB requests
        Matcher counters = Pattern.compile("iotlb-inv (\\d+), dev-iotlb-inv (\\d+), iec-inv \\d+, waits (\\d+)").matcher(r.stderr());
        assertTrue(counters.find(), "the unit's counters: " + r);
        long invalidations = Long.parseLong(counters.group(1));
        long deviceInvalidations = Long.parseLong(counters.group(2));
        assertTrue(invalidations >= 320 && deviceInvalidations >= 320 && deviceInvalidations <= invalidations
            && Long.parseLong(counters.group(3)) >= invalidations, counters.group());
        for (String fn : List.of("01", "02")) {
            Matcher tlb = Pattern.compile("device-tlb 00:" + fn + "\\.0 \\(ats on\\): hits (\\d+), misses (\\d+), invalidations (\\d+)")
                .matcher(r.stderr());
            assertTrue(tlb.find(), "device-TLB counts of 00:" + fn + ".0: " + r.stderr());
            assertTrue(Long.parseLong(tlb.group(1)) > 0 && Long.parseLong(tlb.group(3)) > 0, tlb.group());
        }
        byte[] after = Files.readAllBytes(d.path());
        MessageDigest md5 = MessageDigest.getInstance("MD5");
        md5.update(after, 16 << 20, 8 << 20);
        assertEquals(written.group(1), HexFormat.of().formatHex(md5.digest()), "the image holds the guest's write");
    }

    /** A boot of the parameterized test: kernel command line, intel-iommu's properties, vCPUs. */
    record Variant(String append, String iommu, int cpus) {
        @Override
        public String toString() {
            return "'" + append + "' " + iommu + " -smp " + cpus;
        }
    }

    static List<Variant> variants() {
        return List.of(new Variant("", "intel-iommu", 1),
            // x2APIC interrupt remapping (ECAP.EIM) on two vCPUs, with pass-through DMA
            new Variant("iommu=pt", "intel-iommu,intremap=on,eim=on", 2),
            new Variant("intel_iommu=off", "intel-iommu", 1),
            new Variant("iommu.strict=1", "intel-iommu,caching-mode=on,aw-bits=48,intremap=off", 1));
    }

    /**
     * Moves the serial port's IOAPIC interrupt to CPU 1 and then to CPU 0, writing lines after
     * each move, and shows its counts before and after. Linux moves an IOAPIC interrupt when it
     * next arrives (the first one after the write still reaches the old CPU), so each move is
     * followed by ~120 bytes, several 16-byte FIFOs' worth of transmit interrupts.
     */
    private static final String MOVE_TTYS0 = String.join("; ",
        "echo ttyS0-start $(grep ttyS0 /proc/interrupts)",
        "echo 2 > /proc/irq/4/smp_affinity", "echo moved-to-cpu1 $(seq 100 139)", "sleep 0.2",
        "echo ttyS0-cpu1 $(grep ttyS0 /proc/interrupts)",
        "echo 1 > /proc/irq/4/smp_affinity", "echo moved-to-cpu0 $(seq 100 139)", "sleep 0.2",
        "echo ttyS0-cpu0 $(grep ttyS0 /proc/interrupts)");

    /** The serial port's interrupt counts on CPU 0 and 1 in the line that starts with {@code tag}. */
    private static long[] ttyS0Counts(String out, String tag) {
        Matcher m = Pattern.compile("(?m)^" + tag + " 4: (\\d+) (\\d+) IR-IO-APIC 4-edge ttyS0$").matcher(out);
        assertTrue(m.find(), tag + ": " + out);
        return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
    }

    /**
     * The lazy boot's network: virtio-net behind the unit (iommu_platform=on) on -netdev user
     * (passt, no TAP device, so it runs wherever CI runs): a DHCP lease, then a file fetched from
     * the test's HTTP server on the host's loopback through the gateway, and one sent back with
     * nc; both must arrive intact, so both queues' buffers went through the translation.
     */
    private static final int NET_BYTES = 256 * 1024;

    /** Serves {@code down} to one HTTP GET and reads {@code NET_BYTES} from one TCP client, on loopback. */
    private record HostPeer(ServerSocket http, ServerSocket upload, CompletableFuture<byte[]> received) implements AutoCloseable {
        static HostPeer start(byte[] down) throws IOException {
            ServerSocket http = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
            ServerSocket upload = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
            Thread.ofPlatform().daemon().start(() -> {
                try (Socket c = http.accept()) {
                    var in = new java.io.BufferedReader(new java.io.InputStreamReader(c.getInputStream(), StandardCharsets.US_ASCII));
                    for (String l = in.readLine(); l != null && !l.isEmpty(); l = in.readLine()) {
                        // the request line and headers
                    }
                    OutputStream o = c.getOutputStream();
                    o.write(("HTTP/1.0 200 OK\r\nContent-Length: " + down.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    o.write(down);
                } catch (IOException e) {
                    // closed at the end without a client: the guest's wget status says so
                }
            });
            CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> {
                try (Socket c = upload.accept(); InputStream in = c.getInputStream()) {
                    return in.readNBytes(NET_BYTES);
                } catch (IOException e) {
                    return new byte[0];
                }
            });
            return new HostPeer(http, upload, received);
        }

        @Override
        public void close() throws IOException {
            http.close();
            upload.close();
        }
    }

    private static String md5Hex(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(b));
    }

    @ParameterizedTest
    @MethodSource("variants")
    void lazyPassThroughOffAndFourLevelTablesBootAndMoveData(Variant v, @TempDir Path dir) throws Exception {
        Disk d = disk(dir);
        String append = v.append();
        boolean net = append.isEmpty();
        RequiredTools.assume(!net || Files.isExecutable(Path.of("/usr/bin/passt")),
            "skipped: passt is not installed (apt-get install passt): no -netdev user for the lazy boot's virtio-net");
        byte[] down = new byte[NET_BYTES];
        new Random(151).nextBytes(down);
        JvisorProcess.Result r;
        HostPeer peer = net ? HostPeer.start(down) : null;
        try {
            String cmd = v.cpus() > 1 ? CHECKS + "; " + MOVE_TTYS0 : CHECKS;
            List<String> more = List.of();
            if (net) {
                cmd += "; " + String.join("; ", UserNetGuestTest.DHCP_SCRIPT,
                    "ip link set eth0 up",
                    "udhcpc -i eth0 -f -q -n -t 5 -s /tmp/dhcp.sh; echo udhcpc-status=$?",
                    "echo net-features=$(cat /sys/class/net/eth0/device/features)",
                    "R=$(ip route | awk '/default/ {print $3}')",
                    "wget -q -O /tmp/down http://$R:" + peer.http().getLocalPort() + "/; echo wget-status=$?",
                    "echo down-md5=$(md5sum < /tmp/down)",
                    "dd if=/dev/urandom of=/tmp/up bs=1024 count=" + NET_BYTES / 1024 + " 2>/dev/null",
                    "echo up-md5=$(md5sum < /tmp/up)",
                    "nc $R " + peer.upload().getLocalPort() + " < /tmp/up; echo nc-status=$?");
                more = List.of("-netdev", "user,id=net0",
                    "-device", "virtio-net-pci,netdev=net0,iommu_platform=on,disable-legacy=on");
            }
            r = boot(d, append, v.iommu(), v.cpus(), "", cmd, more);
        } finally {
            if (peer != null) {
                peer.close();
            }
        }
        String out = r.stdout();
        if (net) {
            assertTrue(out.contains("udhcpc-status=0"), "a DHCP lease through the IOMMU: " + r);
            String features = out.lines().filter(l -> l.startsWith("net-features=")).findFirst().orElse("net-features=").substring(13);
            assertTrue(features.length() > 33 && features.charAt(33) == '1', "ACCESS_PLATFORM negotiated: " + features);
            assertTrue(out.contains("wget-status=0") && out.contains("down-md5=" + md5Hex(down)),
                "host -> guest file intact (" + md5Hex(down) + "): " + r);
            assertTrue(out.contains("nc-status=0"), r.toString());
            byte[] up = peer.received().get(30, TimeUnit.SECONDS);
            Matcher upMd5 = Pattern.compile("up-md5=([0-9a-f]{32})").matcher(out);
            assertTrue(upMd5.find(), r.toString());
            assertEquals(NET_BYTES, up.length, "guest -> host bytes: " + r);
            assertEquals(upMd5.group(1), md5Hex(up), "guest -> host file intact");
        }
        assertTrue(out.contains(d.md5() + "  /dev/vda"), r.toString());
        assertTrue(out.contains("rng-bytes=65536"), r.toString());
        switch (append) {
            case "" -> {
                // Debian's kernel turns the IOMMU on by itself once there is a DMAR (INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF)
                assertTrue(out.contains("iommu: DMA domain TLB invalidation policy: lazy mode"), r.toString());
                assertTrue(out.contains("DMAR: dmar0: Using Queued invalidation"), r.toString());
            }
            case "iommu=pt" -> {
                assertTrue(out.contains("iommu: Default domain type: Passthrough"), r.toString());
                // ECAP.EIM and CPUID's x2APIC: Linux remaps to 32-bit x2APIC destinations, logical cluster mode
                assertTrue(out.contains("DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap d2008c22260206 ecap f00f5a"), r.toString());
                assertTrue(out.contains("DMAR-IR: Enabled IRQ remapping in x2apic mode"), r.toString());
                assertTrue(out.contains("Switched APIC routing to cluster x2apic."), r.toString());
                assertTrue(out.lines().anyMatch(l -> l.matches("\\s*\\d+:\\s+\\d+\\s+\\d+\\s+IR-PCI-MSI\\s+\\d+-edge\\s+virtio0-req.0")
                    && !l.matches("\\s*\\d+:\\s+0\\s+0\\s.*")), "the disk's remapped MSI-X arrived: " + r);
                // the serial port's remapped IOAPIC interrupt follows its affinity to each member of cluster 0
                long[] start = ttyS0Counts(out, "ttyS0-start");
                long[] onCpu1 = ttyS0Counts(out, "ttyS0-cpu1");
                long[] onCpu0 = ttyS0Counts(out, "ttyS0-cpu0");
                assertTrue(onCpu1[1] > start[1] && onCpu0[0] > onCpu1[0],
                    "ttyS0's interrupts moved to CPU 1, then CPU 0: " + r);
            }
            case "iommu.strict=1" -> {
                // Linux picks 4-level tables from SAGAW and invalidates after every map (CAP.CM)
                assertTrue(out.contains("DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap d2008c222f0686 ecap f42"), r.toString());
                assertTrue(out.contains("DMAR: Host address width 48"), r.toString());
                assertFalse(out.contains("DMAR-IR: Enabled IRQ remapping"), "intremap=off: " + r);
                assertTrue(out.lines().anyMatch(l -> l.equals("no-remapped-interrupts")), r.toString());
            }
            default -> assertTrue(out.contains("DMAR: IOMMU disabled"), r.toString());
        }
    }
}
