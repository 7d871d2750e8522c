package org.jvisor.backend.vhost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.jvisor.sys.EventFd;
import org.jvisor.testing.ScriptedVhostUserBackend;

/** The frontend against a scripted backend over a socketpair: QEMU 7.2's order, and every malformed reply refused by name. */
class VhostUserFrontendTest {

    private static VhostUserException failsWith(Function<VhostUserMessage, byte[]> script) throws Exception {
        ScriptedVhostUserBackend[] b = new ScriptedVhostUserBackend[1];
        try (VhostUserFrontend f = ScriptedVhostUserBackend.start(script, b)) {
            return assertThrows(VhostUserException.class, () -> f.handshake(60));
        } finally {
            b[0].close();
        }
    }

    private static int code(VhostUserRequest r) {
        return r.code();
    }

    @Test
    void theHandshakeAndStartFollowQemusOrder() throws Exception {
        ScriptedVhostUserBackend[] b = new ScriptedVhostUserBackend[1];
        try (VhostUserFrontend f = ScriptedVhostUserBackend.start(ScriptedVhostUserBackend::wellBehaved, b);
             EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking();
             EventFd memory = EventFd.createNonBlocking()) {
            VhostUserFrontend.Handshake hs = f.handshake(60);
            assertEquals(ScriptedVhostUserBackend.FEATURES, hs.features());
            assertEquals((1L << 0) | (1L << 3) | (1L << 9), hs.protocolFeatures(), "MQ, REPLY_ACK, CONFIG: not INFLIGHT");
            assertEquals(2048, java.nio.ByteBuffer.wrap(hs.config()).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0));
            f.start(1L << 32, List.of(new VhostUserMessage.MemoryRegion(0, 1 << 20, 0x7000_0000L, 0)), new int[] {memory.fd()},
                List.of(new VhostUserFrontend.Ring(0, 128, 0x7000_1000L, 0x7000_3000L, 0x7000_2000L, 0, kick.fd(), call.fd())));
            assertEquals(7, f.stopRing(0));
            assertEquals(List.of(code(VhostUserRequest.GET_FEATURES), code(VhostUserRequest.GET_PROTOCOL_FEATURES),
                code(VhostUserRequest.SET_PROTOCOL_FEATURES), code(VhostUserRequest.GET_QUEUE_NUM),
                code(VhostUserRequest.SET_OWNER), code(VhostUserRequest.GET_CONFIG), code(VhostUserRequest.SET_FEATURES),
                code(VhostUserRequest.SET_MEM_TABLE), code(VhostUserRequest.SET_VRING_NUM), code(VhostUserRequest.SET_VRING_BASE),
                code(VhostUserRequest.SET_VRING_ADDR), code(VhostUserRequest.SET_VRING_CALL), code(VhostUserRequest.SET_VRING_KICK),
                code(VhostUserRequest.SET_VRING_ENABLE), code(VhostUserRequest.GET_VRING_BASE)), b[0].requests);
            int memTable = b[0].requests.indexOf(code(VhostUserRequest.SET_MEM_TABLE));
            int kickAt = b[0].requests.indexOf(code(VhostUserRequest.SET_VRING_KICK));
            assertEquals(1, b[0].fdCounts.get(memTable), "the RAM descriptor rides with SET_MEM_TABLE");
            assertEquals(1, b[0].fdCounts.get(kickAt), "the kick eventfd rides with SET_VRING_KICK");
            assertEquals(1, b[0].fdCounts.get(b[0].requests.indexOf(code(VhostUserRequest.SET_VRING_CALL))),
                "the call eventfd rides with SET_VRING_CALL");
            assertEquals(0, b[0].fdCounts.get(b[0].requests.indexOf(code(VhostUserRequest.SET_VRING_ENABLE))));
        } finally {
            b[0].close();
        }
    }

    @Test
    void anOversizedReplyIsRefusedWithoutReadingIt() throws Exception {
        VhostUserException e = failsWith(m -> new byte[] {1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0x10});
        assertTrue(e.getMessage().contains("exceeds the maximum 4096") && e.getMessage().contains("GET_FEATURES"), e.getMessage());
    }

    @Test
    void aReplyToAnotherRequestIsRefused() throws Exception {
        VhostUserException e = failsWith(m -> ScriptedVhostUserBackend.reply(VhostUserRequest.GET_PROTOCOL_FEATURES.code(),
            VhostUserMessage.u64(ScriptedVhostUserBackend.FEATURES)));
        assertTrue(e.getMessage().contains("asked GET_FEATURES (1), the reply is to GET_PROTOCOL_FEATURES (15)"), e.getMessage());
    }

    @Test
    void aBackendThatClosesMidMessageIsNamed() throws Exception {
        VhostUserException e = failsWith(m -> {
            if (m.request() == VhostUserRequest.GET_FEATURES.code()) {
                return Arrays.copyOf(ScriptedVhostUserBackend.reply(m.request(), VhostUserMessage.u64(ScriptedVhostUserBackend.FEATURES)), 15);
            }
            return null;
        });
        // The backend sends 15 of the reply's 20 bytes and closes.
        assertTrue(e.getMessage().contains("closed the connection in the middle of a message (3 of 8 bytes"), e.getMessage());
    }

    @Test
    void aBackendThatClosesBeforeReplyingIsNamed() throws Exception {
        VhostUserException e = failsWith(m -> null);
        assertTrue(e.getMessage().contains("closed the connection (waiting for the reply to GET_FEATURES)"), e.getMessage());
    }

    @Test
    void aReplyWithoutTheReplyFlagIsRefused() throws Exception {
        VhostUserException e = failsWith(m -> new VhostUserMessage(m.request(), 1, VhostUserMessage.u64(1)).encode());
        assertTrue(e.getMessage().contains("not marked as a reply"), e.getMessage());
    }

    @Test
    void aBackendWithoutConfigIsRefusedAsQemuRefusesIt() throws Exception {
        VhostUserException e = failsWith(m -> m.request() == VhostUserRequest.GET_PROTOCOL_FEATURES.code()
            ? ScriptedVhostUserBackend.reply(m.request(), VhostUserMessage.u64(1L << 3)) : ScriptedVhostUserBackend.wellBehaved(m));
        assertTrue(e.getMessage().contains("expecting VHOST_USER_PROTOCOL_F_CONFIG"), e.getMessage());
    }

    @Test
    void aRefusedRequestIsNamedWithItsStatus() throws Exception {
        VhostUserException e = failsWith(m -> m.request() == VhostUserRequest.SET_OWNER.code()
            ? ScriptedVhostUserBackend.reply(m.request(), VhostUserMessage.u64(1)) : ScriptedVhostUserBackend.wellBehaved(m));
        assertTrue(e.getMessage().contains("refused SET_OWNER (status 1)"), e.getMessage());
    }

    @Test
    void aConfigOfAnotherSizeIsRefused() throws Exception {
        VhostUserException e = failsWith(m -> m.request() == VhostUserRequest.GET_CONFIG.code()
            ? ScriptedVhostUserBackend.reply(m.request(), new VhostUserMessage.Config(0, 0, new byte[8]).encode()) : ScriptedVhostUserBackend.wellBehaved(m));
        assertTrue(e.getMessage().contains("returned 8 bytes of config space (60 asked for)"), e.getMessage());
    }

    /** Descriptors no reply should carry are closed, not leaked (a backend sending them in a loop must not exhaust the VMM). */
    @Test
    void descriptorsAttachedToRepliesAreClosed() throws Exception {
        Set<String> before;
        ScriptedVhostUserBackend[] b = new ScriptedVhostUserBackend[1];
        try (EventFd stray = EventFd.createNonBlocking()) {
            before = openEventFds();
            try (VhostUserFrontend f = ScriptedVhostUserBackend.start(ScriptedVhostUserBackend::wellBehaved, b)) {
                b[0].attachToReplies = stray.fd();
                for (int i = 0; i < 20; i++) {
                    f.stopRing(0);
                }
            } finally {
                b[0].close();
            }
            // Compare eventfds by number, not a count of all descriptors: other threads of the test
            // JVM (class loading, finalised streams of earlier tests) open and close files meanwhile.
            Set<String> left = new TreeSet<>(openEventFds());
            left.removeAll(before);
            assertEquals(Set.of(), left, "40 descriptors came with the replies; none is left open");
        }
    }

    private static Set<String> openEventFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.filter(VhostUserFrontendTest::isEventFd)
                    .map(fd -> fd.getFileName().toString())
                    .collect(Collectors.toSet());
        }
    }

    private static boolean isEventFd(Path fd) {
        try {
            return Files.readSymbolicLink(fd).toString().equals("anon_inode:[eventfd]");
        } catch (IOException closedMeanwhile) {
            return false;
        }
    }
}
