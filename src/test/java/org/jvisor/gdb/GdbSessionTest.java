package org.jvisor.gdb;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntConsumer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvisor.cpu.DebugControl;
import org.jvisor.cpu.Gpr;
import org.jvisor.cpu.X86State;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A session's answers, packet by packet, against a fake two-vCPU machine, over a socket pair. */
class GdbSessionTest {
    /** Two vCPUs in 64-bit mode; RAM is the 4 KiB at 0x1000, nothing else is mapped. */
    static final class FakeTarget implements DebugTarget {
        final X86State[] cpus = {new X86State(), new X86State()};
        final byte[] ram = new byte[0x1000];
        final List<String> calls = new CopyOnWriteArrayList<>();
        volatile List<DebugControl> controls;
        volatile boolean[] hold;
        volatile IntConsumer listener;

        FakeTarget() {
            for (X86State s : cpus) {
                s.efer = X86State.EFER_LMA | X86State.EFER_LME;
                s.cs.l = true;
                s.cs.selector = 8;
            }
        }

        @Override
        public int vcpuCount() {
            return cpus.length;
        }

        @Override
        public void onStop(IntConsumer l) {
            listener = l;
        }

        @Override
        public void stop() {
            calls.add("stop");
        }

        @Override
        public void resume(List<DebugControl> c, boolean[] h) {
            controls = List.copyOf(c);
            hold = h == null ? null : h.clone();
            calls.add("resume");
        }

        @Override
        public void clearControls() {
            calls.add("clear");
        }

        @Override
        public X86State readRegisters(int vcpu) {
            X86State s = new X86State();
            s.copyFrom(cpus[vcpu]);
            return s;
        }

        @Override
        public void writeRegisters(int vcpu, X86State state) {
            cpus[vcpu].copyFrom(state);
        }

        @Override
        public int readMemory(int vcpu, long address, byte[] into) {
            int n = 0;
            while (n < into.length && address + n >= 0x1000 && address + n < 0x2000) {
                into[n] = ram[(int) (address + n - 0x1000)];
                n++;
            }
            return n;
        }

        @Override
        public int writeMemory(int vcpu, long address, byte[] data) {
            int n = 0;
            while (n < data.length && address + n >= 0x1000 && address + n < 0x2000) {
                ram[(int) (address + n - 0x1000)] = data[n];
                n++;
            }
            return n;
        }

        @Override
        public boolean halted(int vcpu) {
            return vcpu == 1;
        }

        @Override
        public void kill() {
            calls.add("kill");
        }
    }

    private Path dir;
    private SocketChannel clientSide;
    private Thread session;
    private final FakeTarget target = new FakeTarget();
    private RspClient gdb;

    @BeforeEach
    void connect() throws IOException {
        dir = Files.createTempDirectory("gdbsession");
        Path sock = dir.resolve("s");
        SocketChannel stubSide;
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            clientSide = SocketChannel.open(UnixDomainSocketAddress.of(sock));
            stubSide = server.accept();
        }
        RspChannel ch = new RspChannel(Channels.newInputStream(stubSide), Channels.newOutputStream(stubSide), stubSide);
        session = Thread.ofPlatform().start(new GdbSession(ch, target, msg -> { }));
        gdb = new RspClient(Channels.newInputStream(clientSide), Channels.newOutputStream(clientSide));
    }

    @AfterEach
    void close() throws Exception {
        clientSide.close();
        session.join(10_000);
        assertFalse(session.isAlive(), "the session ends when the client goes");
        Files.deleteIfExists(dir.resolve("s"));
        Files.delete(dir);
    }

    @Test
    void aClientThatConnectsStopsTheMachineAndLeavingClearsItsBreakpoints() throws Exception {
        assertEquals("T05thread:01;", gdb.ask("?"));
        assertEquals("stop", target.calls.get(0));
        clientSide.close();
        session.join(10_000);
        assertEquals("clear", target.calls.get(target.calls.size() - 1));
        assertNull(target.listener);
    }

    @Test
    void qSupportedAnswersAsQemuAndTurnsOnMultiprocessIds() throws Exception {
        assertEquals(GdbSession.SUPPORTED, gdb.ask("qSupported:multiprocess+;swbreak+;xmlRegisters=i386"));
        assertEquals("T05thread:p01.01;", gdb.ask("?"));
        assertEquals("QCp01.01", gdb.ask("qC"));
        assertEquals("mp01.01", gdb.ask("qfThreadInfo"));
        assertEquals("mp01.02", gdb.ask("qsThreadInfo"));
        assertEquals("l", gdb.ask("qsThreadInfo"));
    }

    @Test
    void theTargetDescriptionIsReadInPiecesAndNamesQemusLayout() throws Exception {
        assertEquals("l<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\"><target><architecture>i386:x86-64"
            + "</architecture><xi:include href=\"i386-64bit.xml\"/></target>", gdb.ask("qXfer:features:read:target.xml:0,ffb"));
        StringBuilder xml = new StringBuilder();
        for (int off = 0; ; ) {
            String piece = gdb.ask("qXfer:features:read:i386-64bit.xml:" + Integer.toHexString(off) + ",100");
            xml.append(piece.substring(1));
            off += piece.length() - 1;
            if (piece.charAt(0) == 'l') {
                break;
            }
            assertEquals('m', piece.charAt(0));
        }
        String x = xml.toString();
        assertTrue(x.contains("<reg name=\"rax\" bitsize=\"64\" type=\"int64\" regnum=\"0\"/>"), x);
        assertTrue(x.indexOf("name=\"k_gs_base\"") < x.indexOf("name=\"cr0\"") && x.indexOf("name=\"efer\"") < x.indexOf("name=\"st0\"")
            && x.indexOf("name=\"fop\"") < x.indexOf("name=\"xmm0\"") && x.indexOf("name=\"xmm15\"") < x.indexOf("name=\"mxcsr\""), x);
        assertEquals("E00", gdb.ask("qXfer:features:read:nope.xml:0,10"));
        assertEquals("E22", gdb.ask("qXfer:features:read:target.xml:10"));
    }

    @Test
    void registersFollowGdbsOrderAndWidths() throws Exception {
        target.cpus[0].set(Gpr.RBX, 0x1122334455667788L);
        target.cpus[0].rip = 0xFFFF_FFFF_8100_0000L;
        String g = gdb.ask("g");
        assertEquals(GdbRegister.totalBytes() * 2, g.length());
        assertEquals("8877665544332211", g.substring(16, 32), "rbx is gdb's register 1");
        assertEquals("00000081ffffffff", gdb.ask("p10"));
        assertEquals("E14", gdb.ask("p42"));
        assertEquals("OK", gdb.ask("P0=efbeadde00000000"));
        assertEquals(0xDEADBEEFL, target.cpus[0].get(Gpr.RAX));
        assertEquals("E22", gdb.ask("P0=11"));
        assertEquals("E22", gdb.ask("P12=09000000"), "another CS selector cannot be loaded");
        assertEquals("OK", gdb.ask("G" + g));
        assertEquals(0x1122334455667788L, target.cpus[0].get(Gpr.RBX));
        assertEquals("E22", gdb.ask("G00"));
    }

    @Test
    void outsideLongModeGeneralRegistersAreTheirLow32BitsAsOnQemu() throws Exception {
        target.cpus[0].efer = 0;
        target.cpus[0].cs.l = false;
        target.cpus[0].set(Gpr.RAX, 0xAAAA_BBBB_1234_5678L);
        target.cpus[0].gpr[8] = 5;
        assertEquals("7856341200000000", gdb.ask("p0"));
        assertEquals("0000000000000000", gdb.ask("p8"));
        assertEquals("OK", gdb.ask("P0=1122334455667788"));
        assertEquals(0xAAAA_BBBB_4433_2211L, target.cpus[0].get(Gpr.RAX));
    }

    @Test
    void memoryReadsAndWritesAndTheirErrors() throws Exception {
        assertEquals("OK", gdb.ask("M1000,4:deadbeef"));
        assertEquals("deadbeef", gdb.ask("m1000,4"));
        assertEquals("E14", gdb.ask("m1ffe,4"), "a read running off the mapped range fails whole");
        assertEquals("E14", gdb.ask("mffffffffff000000,4"));
        assertEquals("", gdb.ask("m1000,0"));
        assertEquals("E22", gdb.ask("m1000"));
        assertEquals("E22", gdb.ask("mzz,4"));
        assertEquals("E22", gdb.ask("m1000,801"), "longer than a reply can carry");
        assertEquals("E22", gdb.ask("M1000,2:12"));
        assertEquals("OK", gdb.ask("X1000,0:"), "gdb's probe for X");
        assertEquals("OK", gdb.ask("X1004,2:}\u0003}]"));
        assertArrayEquals(new byte[] {'#', '}'}, new byte[] {target.ram[4], target.ram[5]});
    }

    @Test
    void breakpointsGoToTheVcpusWhenTheyRunAndAStopIsReported() throws Exception {
        assertEquals("OK", gdb.ask("Z0,ffffffff81000000,1"));
        assertEquals("OK", gdb.ask("Z1,1000,1"));
        assertEquals("", gdb.ask("Z2,1000,4"), "watchpoints are not supported");
        assertEquals("vCont;c;C;s;S", gdb.ask("vCont?"));
        gdb.raw(RspClient.frame("vCont;c"));
        assertEquals('+', gdb.read());
        waitFor(() -> target.controls != null);
        assertEquals(new DebugControl(new long[] {0x1000, 0xFFFF_FFFF_8100_0000L}, false), target.controls.get(0));
        assertArrayEquals(new boolean[] {false, false}, target.hold, "no vCPU is held");
        target.listener.accept(1);
        assertEquals("T05thread:02;", gdb.reply());
        assertEquals("QC02", gdb.ask("qC"), "the vCPU that stopped is the current thread");
        assertEquals("OK", gdb.ask("z0,ffffffff81000000,1"));
        assertEquals("E22", gdb.ask("z0,ffffffff81000000,1"), "no such breakpoint left");
    }

    @Test
    void vContStepsOneVcpuAndHoldsTheOthers() throws Exception {
        gdb.raw(RspClient.frame("vCont;s:2"));
        assertEquals('+', gdb.read());
        waitFor(() -> target.controls != null);
        assertFalse(target.controls.get(0).singleStep());
        assertTrue(target.controls.get(1).singleStep());
        assertArrayEquals(new boolean[] {true, false}, target.hold);
        target.listener.accept(1);
        assertEquals("T05thread:02;", gdb.reply());
        assertEquals("E22", gdb.ask("vCont;s:5"));
        assertEquals("", gdb.ask("vCont;x"));
    }

    @Test
    void ctrlCStopsARunningMachineWithSigint() throws Exception {
        gdb.raw(RspClient.frame("c"));
        assertEquals('+', gdb.read());
        waitFor(() -> target.controls != null);
        gdb.raw("\u0003");
        assertEquals("T02thread:01;", gdb.reply());
        assertEquals("stop", target.calls.get(target.calls.size() - 1));
    }

    @Test
    void threadsAreTheVcpus() throws Exception {
        assertEquals("OK", gdb.ask("Hg2"));
        assertEquals("E22", gdb.ask("Hg3"));
        assertEquals("OK", gdb.ask("T2"));
        assertEquals("E22", gdb.ask("T3"));
        assertEquals("1", gdb.ask("qAttached:1"));
        assertEquals(hex("CPU#1 [halted ]"), gdb.ask("qThreadExtraInfo,2"));
        assertEquals(hex("CPU#0 [running]"), gdb.ask("qThreadExtraInfo,1"));
    }

    @Test
    void unknownPacketsGetAnEmptyReplyAndTheSessionGoesOn() throws Exception {
        assertEquals("", gdb.ask("vMustReplyEmpty"));
        assertEquals("", gdb.ask("qTStatus"));
        assertEquals("", gdb.ask("!"));
        assertEquals("E22", gdb.ask("Hgzz"));
        assertEquals("T05thread:01;", gdb.ask("?"));
    }

    @Test
    void noAckModeStopsTheAcks() throws Exception {
        assertEquals("OK", gdb.ask("QStartNoAckMode"));
        gdb.raw(RspClient.frame("qC"));
        assertEquals("QC01", gdb.reply());   // no '+' before the reply
    }

    @Test
    void detachClearsBreakpointsAndLetsTheMachineRun() throws Exception {
        assertEquals("OK", gdb.ask("Z0,1000,1"));
        assertEquals("OK", gdb.ask("D;1"));
        waitFor(() -> target.controls != null);
        assertEquals(List.of(DebugControl.NONE, DebugControl.NONE), target.controls);
        assertTrue(target.calls.contains("clear"));
    }

    @Test
    void killAnswersW00AndEndsTheMachine() throws Exception {
        gdb.raw(RspClient.frame("k"));
        assertEquals('+', gdb.read());
        assertEquals("W00", gdb.reply());
        waitFor(() -> target.calls.contains("kill"));
    }

    private static String hex(String s) {
        return java.util.HexFormat.of().formatHex(s.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }

    private static void waitFor(java.util.function.BooleanSupplier c) throws InterruptedException {
        for (int i = 0; i < 1000 && !c.getAsBoolean(); i++) {
            Thread.sleep(5);
        }
        assertTrue(c.getAsBoolean(), "timed out");
    }
}
