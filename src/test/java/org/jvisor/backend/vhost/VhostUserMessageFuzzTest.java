package org.jvisor.backend.vhost;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes the decoding of what a vhost-user backend sends (any bytes as a header and payload, read
 * as each reply type the frontend expects): a malformed reply must be a {@link VhostUserException}
 * naming the problem, never another exception (an index out of bounds, a huge allocation).
 */
class VhostUserMessageFuzzTest {
    @FuzzTest(maxDuration = "60s")
    void replies(FuzzedDataProvider data) {
        byte[] bytes = data.consumeRemainingAsBytes();
        VhostUserMessage m;
        try {
            VhostUserMessage.decodeHeader(bytes);
            m = VhostUserMessage.decode(bytes);
        } catch (VhostUserException e) {
            return;
        }
        if (m.size() > VhostUserMessage.MAX_PAYLOAD) {
            throw new AssertionError("decoded a payload of " + m.size() + " bytes");
        }
        try {
            m.asU64();
        } catch (VhostUserException e) {
            // refused by name
        }
        try {
            m.asVringState();
        } catch (VhostUserException e) {
            // refused by name
        }
        try {
            VhostUserMessage.Config c = m.asConfig();
            if (c.data().length != m.size() - 12) {
                throw new AssertionError("config of " + c.data().length + " bytes from a payload of " + m.size());
            }
        } catch (VhostUserException e) {
            // refused by name
        }
    }
}
