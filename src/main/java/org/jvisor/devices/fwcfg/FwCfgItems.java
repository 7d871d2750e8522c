package org.jvisor.devices.fwcfg;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a {@link FwCfg} device offers, built before the machine runs: items under fixed selector
 * keys (QEMU's FW_CFG_SIGNATURE, FW_CFG_RAM_SIZE...) and named files, which get keys from
 * {@link #FILE_FIRST} on in name order and a directory under {@link #FILE_DIR} (QEMU
 * docs/specs/fw_cfg.txt, "Selector Keys" and "FW_CFG_FILE_DIR").
 */
public final class FwCfgItems {
    public static final int SIGNATURE = 0x00;
    public static final int ID = 0x01;
    public static final int UUID = 0x02;
    public static final int RAM_SIZE = 0x03;
    public static final int NOGRAPHIC = 0x04;
    public static final int NB_CPUS = 0x05;
    public static final int MACHINE_ID = 0x06;
    public static final int BOOT_MENU = 0x0E;
    public static final int MAX_CPUS = 0x0F;
    public static final int FILE_DIR = 0x19;
    public static final int FILE_FIRST = 0x20;
    /** The directory's name field is 56 bytes, NUL-terminated. */
    public static final int MAX_NAME = 55;
    /** Keys are 14 bits; bit 14 asks for a write, bit 15 is the architecture-local range. */
    static final int KEY_MASK = 0x3FFF;
    static final int ARCH_LOCAL = 0x8000;
    /** ID bit: the DMA interface is present. */
    public static final int ID_TRADITIONAL = 1;
    public static final int ID_DMA = 2;

    private final Map<Integer, byte[]> items = new HashMap<>();
    private final TreeMap<String, byte[]> files = new TreeMap<>();

    public FwCfgItems() {
        put(SIGNATURE, "QEMU".getBytes(StandardCharsets.US_ASCII));
        put(ID, le(ID_TRADITIONAL | ID_DMA, 4));
    }

    /** Sets item {@code key} (below {@link #FILE_FIRST}, or an architecture-local key). */
    public FwCfgItems put(int key, byte[] data) {
        if ((key & ~(ARCH_LOCAL | KEY_MASK)) != 0 || (key & KEY_MASK) >= FILE_FIRST && (key & ARCH_LOCAL) == 0) {
            throw new IllegalArgumentException(String.format("fw_cfg key %#x is not a fixed item key", key));
        }
        items.put(key, data.clone());
        return this;
    }

    /** Adds the file {@code name} (at most 55 bytes of ASCII, unique). */
    public FwCfgItems file(String name, byte[] data) {
        if (name.isEmpty() || name.length() > MAX_NAME || !StandardCharsets.US_ASCII.newEncoder().canEncode(name)) {
            throw new IllegalArgumentException("fw_cfg file name \"" + name + "\" is not 1-55 ASCII characters");
        }
        if (files.putIfAbsent(name, data.clone()) != null) {
            throw new IllegalArgumentException("fw_cfg file " + name + " is added twice");
        }
        return this;
    }

    /** Every key with its contents: the items, the files in name order and their directory. */
    Map<Integer, byte[]> build() {
        Map<Integer, byte[]> all = new HashMap<>(items);
        ByteBuffer dir = ByteBuffer.allocate(4 + 64 * files.size()).order(ByteOrder.BIG_ENDIAN);
        dir.putInt(files.size());
        int key = FILE_FIRST;
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            if (key > KEY_MASK) {
                throw new IllegalStateException("too many fw_cfg files");
            }
            dir.putInt(f.getValue().length).putShort((short) key).putShort((short) 0);
            byte[] name = new byte[56];
            byte[] ascii = f.getKey().getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(ascii, 0, name, 0, ascii.length);
            dir.put(name);
            all.put(key++, f.getValue());
        }
        all.put(FILE_DIR, dir.array());
        return all;
    }

    /** {@code value} as {@code bytes} little-endian bytes, as fw_cfg's integer items are. */
    public static byte[] le(long value, int bytes) {
        byte[] b = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            b[i] = (byte) (value >>> (8 * i));
        }
        return b;
    }
}
