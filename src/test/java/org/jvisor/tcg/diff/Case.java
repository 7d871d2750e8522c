package org.jvisor.tcg.diff;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;

/**
 * One generated test: a snippet at a fixed address, its inputs and what to compare. The
 * {@code approxCount} doubles at {@code approxAddr} in the data area compare within
 * {@code approxUlps} units in the last place (results the host computes more precisely than tcg).
 */
record Case(String family, long codeAddr, byte[] code, long[] regs, byte[] data, long flagMask, int ignoreRegs,
            String note, boolean sse, long mxcsrMask, int ignoreXmm, long approxAddr, int approxCount, int approxUlps) {

    static final String[] NAMES = {
        "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
    };

    String hex() {
        return HexFormat.ofDelimiter(" ").formatHex(code);
    }

    /** The snippet disassembled by the machine's objdump, or just its bytes if that fails. */
    String disassembly() {
        try {
            Path f = Files.createTempFile("tcgdiff", ".bin");
            try {
                Files.write(f, code);
                Process p = new ProcessBuilder("objdump", "-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel",
                    "--adjust-vma=0x" + Long.toHexString(codeAddr), f.toString()).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                p.waitFor(30, TimeUnit.SECONDS);
                StringBuilder sb = new StringBuilder();
                boolean body = false;
                for (String line : out.split("\n")) {
                    if (line.contains("<.data>:")) {
                        body = true;
                        continue;
                    }
                    if (body && !line.isBlank()) {
                        sb.append("    ").append(line.strip()).append('\n');
                    }
                }
                return sb.isEmpty() ? "    " + hex() + '\n' : sb.toString();
            } finally {
                Files.deleteIfExists(f);
            }
        } catch (IOException | InterruptedException e) {
            return "    " + hex() + '\n';
        }
    }

    String inputs() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            if (i == 4) {
                continue;
            }
            sb.append(String.format("%s=%016x ", NAMES[i], regs[i]));
            if (i % 4 == 3) {
                sb.append('\n');
            }
        }
        sb.append(String.format("rflags=%04x (data area as given by the seed)%n", regs[16]));
        if (sse) {
            for (int i = 0; i < 16; i++) {
                sb.append(String.format("xmm%-2d=%016x_%016x%s", i, regs[NativeCpu.XMM_SLOT + 2 * i + 1],
                    regs[NativeCpu.XMM_SLOT + 2 * i], i % 2 == 1 ? "\n" : "  "));
            }
            sb.append(String.format("mxcsr=%04x%n", NativeCpu.inputMxcsr(regs[NativeCpu.MXCSR_SLOT])));
        }
        return sb.toString();
    }
}
