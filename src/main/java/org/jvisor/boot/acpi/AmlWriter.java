package org.jvisor.boot.acpi;

import java.util.Arrays;

/**
 * Writes ACPI Machine Language (ACPI 6.5 ch. 20) into one growing byte array, in prefix order:
 * an operator, then its operands, as the AML grammar reads. Objects with a PkgLength (Scope,
 * Device, Method, Field, If, Else, Buffer, Package, ResourceTemplate) are opened with a
 * {@code begin...} call and closed with {@link #end()}; the length (1 to 4 bytes, minimal) and,
 * for packages and buffers, the element count or buffer size are filled in when the object is
 * closed, by shifting its body in place. There is no tree: writing allocates only when the array
 * grows.
 *
 * <pre>{@code
 * AmlWriter w = new AmlWriter();
 * w.beginScope("\\_SB");
 *   w.beginDevice("COM1");
 *     w.name("_HID").eisaId("PNP0501");
 *     w.name("_UID").integer(0);
 *     w.name("_CRS").beginResourceTemplate().io(0x3F8, 0x3F8, 0, 8).irqNoFlags(4).end();
 *   w.end();
 * w.end();
 * byte[] aml = w.toByteArray();
 * }</pre>
 *
 * Name strings are written as ASL spells them: {@code "\\_SB.PCI0"}, {@code "^^FOO"},
 * {@code "_S5"}; each segment is 1-4 characters of {@code A-Z 0-9 _} (not starting with a digit)
 * and is padded with '_' to four.
 */
public final class AmlWriter {

    // Opcodes (ACPI 6.5, 20.3)
    public static final int ZERO_OP = 0x00;
    public static final int ONE_OP = 0x01;
    public static final int NAME_OP = 0x08;
    public static final int BYTE_PREFIX = 0x0A;
    public static final int WORD_PREFIX = 0x0B;
    public static final int DWORD_PREFIX = 0x0C;
    public static final int STRING_PREFIX = 0x0D;
    public static final int QWORD_PREFIX = 0x0E;
    public static final int SCOPE_OP = 0x10;
    public static final int BUFFER_OP = 0x11;
    public static final int PACKAGE_OP = 0x12;
    public static final int METHOD_OP = 0x14;
    public static final int DUAL_NAME_PREFIX = 0x2E;
    public static final int MULTI_NAME_PREFIX = 0x2F;
    public static final int EXT_OP_PREFIX = 0x5B;
    public static final int ROOT_CHAR = 0x5C;
    public static final int PARENT_PREFIX_CHAR = 0x5E;
    public static final int LOCAL0_OP = 0x60;
    public static final int ARG0_OP = 0x68;
    public static final int STORE_OP = 0x70;
    public static final int ADD_OP = 0x72;
    public static final int SHIFT_LEFT_OP = 0x79;
    public static final int AND_OP = 0x7B;
    public static final int OR_OP = 0x7D;
    public static final int NOTIFY_OP = 0x86;
    public static final int CREATE_DWORD_FIELD_OP = 0x8A;
    public static final int LAND_OP = 0x90;
    public static final int LOR_OP = 0x91;
    public static final int LNOT_OP = 0x92;
    public static final int LEQUAL_OP = 0x93;
    public static final int LGREATER_OP = 0x94;
    public static final int LLESS_OP = 0x95;
    public static final int IF_OP = 0xA0;
    public static final int ELSE_OP = 0xA1;
    public static final int RETURN_OP = 0xA4;
    public static final int ONES_OP = 0xFF;
    // ExtOpPrefix opcodes
    public static final int MUTEX_OP = 0x01;
    public static final int ACQUIRE_OP = 0x23;
    public static final int RELEASE_OP = 0x27;
    public static final int OP_REGION_OP = 0x80;
    public static final int FIELD_OP = 0x81;
    public static final int DEVICE_OP = 0x82;

    // Region spaces (ACPI 6.5, 19.6.100)
    public static final int SPACE_SYSTEM_MEMORY = 0;
    public static final int SPACE_SYSTEM_IO = 1;
    public static final int SPACE_PCI_CONFIG = 2;

    // FieldFlags: AccessType (bits 0-3), LockRule (bit 4), UpdateRule (bits 5-6)
    public static final int ACC_ANY = 0;
    public static final int ACC_BYTE = 1;
    public static final int ACC_WORD = 2;
    public static final int ACC_DWORD = 3;
    public static final int ACC_QWORD = 4;
    public static final int ACC_BUFFER = 5;
    public static final int LOCK = 1 << 4;
    public static final int UPDATE_PRESERVE = 0;
    public static final int UPDATE_WRITE_AS_ONES = 1 << 5;
    public static final int UPDATE_WRITE_AS_ZEROS = 2 << 5;

    // Address space resource types and flags (ACPI 6.5, 6.4.3.5)
    public static final int ADDR_MEMORY = 0;
    public static final int ADDR_IO = 1;
    public static final int ADDR_BUS_NUMBER = 2;
    /** General flags: ResourceConsumer (bit 0; 0 is ResourceProducer). */
    public static final int ADDR_CONSUMER = 1;
    /** General flags: SubDecode (bit 1; 0 is PosDecode). */
    public static final int ADDR_SUB_DECODE = 1 << 1;
    /** General flags: MinFixed (bit 2). */
    public static final int ADDR_MIN_FIXED = 1 << 2;
    /** General flags: MaxFixed (bit 3). */
    public static final int ADDR_MAX_FIXED = 1 << 3;
    /** Memory type-specific flags: ReadWrite (bit 0). */
    public static final int MEM_READ_WRITE = 1;
    /** Memory type-specific flags, _MEM (bits 1-2). */
    public static final int MEM_NON_CACHEABLE = 0;
    public static final int MEM_CACHEABLE = 1 << 1;
    public static final int MEM_WRITE_COMBINING = 2 << 1;
    public static final int MEM_PREFETCHABLE = 3 << 1;
    /** I/O type-specific flags, _RNG: EntireRange. */
    public static final int IO_ENTIRE_RANGE = 3;

    private static final int K_PKG = 0;      // PkgLength only
    private static final int K_PACKAGE = 1;  // PkgLength + NumElements
    private static final int K_BUFFER = 2;   // PkgLength + BufferSize
    private static final int K_TEMPLATE = 3; // a Buffer ending with an EndTag

    private byte[] buf;
    private int size;
    // Open objects: body start (right after the opcode), kind, element count.
    private int[] openStart = new int[16];
    private byte[] openKind = new byte[16];
    private int[] openCount = new int[16];
    private int depth;
    private boolean endTagChecksum = true;

    public AmlWriter() {
        this(256);
    }

    public AmlWriter(int initialCapacity) {
        buf = new byte[Math.max(16, initialCapacity)];
    }

    /** Bytes written so far. */
    public int size() {
        return size;
    }

    /** Objects still open (each needs an {@link #end()}). */
    public int depth() {
        return depth;
    }

    /** The AML written; every object must be closed. */
    public byte[] toByteArray() {
        if (depth != 0) {
            throw new IllegalStateException(depth + " AML object(s) still open");
        }
        return Arrays.copyOf(buf, size);
    }

    /**
     * Whether ResourceTemplate EndTags carry a computed checksum (default) or 0, which the spec
     * also accepts ("treated as if the checksum operation succeeded") and iasl and ACPICA write.
     */
    public AmlWriter endTagChecksum(boolean compute) {
        this.endTagChecksum = compute;
        return this;
    }

    /** Discards everything, keeping the array. */
    public AmlWriter clear() {
        size = 0;
        depth = 0;
        return this;
    }

    // ---------------------------------------------------------------- raw bytes

    private void ensure(int n) {
        if (size + n > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, size + n));
        }
    }

    /** One raw byte. */
    public AmlWriter raw(int b) {
        ensure(1);
        buf[size++] = (byte) b;
        return this;
    }

    /** Raw bytes. */
    public AmlWriter raw(byte[] bytes) {
        ensure(bytes.length);
        System.arraycopy(bytes, 0, buf, size, bytes.length);
        size += bytes.length;
        return this;
    }

    private void le16(int v) {
        ensure(2);
        buf[size++] = (byte) v;
        buf[size++] = (byte) (v >>> 8);
    }

    private void le32(long v) {
        ensure(4);
        for (int i = 0; i < 4; i++) {
            buf[size++] = (byte) (v >>> (8 * i));
        }
    }

    private void le64(long v) {
        ensure(8);
        for (int i = 0; i < 8; i++) {
            buf[size++] = (byte) (v >>> (8 * i));
        }
    }

    // ---------------------------------------------------------------- PkgLength

    /**
     * Bytes of a PkgLength encoding {@code value} (20.2.4): 1 byte up to 63, then 2, 3, 4 bytes up
     * to 2^12-1, 2^20-1, 2^28-1.
     */
    public static int pkgLengthSize(int value) {
        if (value < 0 || value > 0x0FFF_FFFF) {
            throw new IllegalArgumentException("PkgLength out of range: " + value);
        }
        if (value < 0x40) {
            return 1;
        } else if (value < 0x1000) {
            return 2;
        } else if (value < 0x10_0000) {
            return 3;
        }
        return 4;
    }

    /** The PkgLength of a body of {@code bodyLength} bytes: it counts its own bytes too. */
    public static int pkgLengthFor(int bodyLength) {
        int n = 1;
        while (pkgLengthSize(bodyLength + n) > n) {
            n++;
        }
        return bodyLength + n;
    }

    /** Encodes {@code value} as a PkgLength of exactly {@code n} bytes into {@code dst}. */
    private static void putPkgLength(byte[] dst, int at, int n, int value) {
        if (n == 1) {
            dst[at] = (byte) value;
            return;
        }
        dst[at] = (byte) (((n - 1) << 6) | (value & 0x0F));
        int rest = value >>> 4;
        for (int i = 1; i < n; i++) {
            dst[at + i] = (byte) rest;
            rest >>>= 8;
        }
    }

    /**
     * A bare PkgLength encoding {@code value} as given (not counting itself), as field list
     * entries use it for bit widths.
     */
    public AmlWriter pkgLengthValue(int value) {
        int n = pkgLengthSize(value);
        ensure(n);
        putPkgLength(buf, size, n, value);
        size += n;
        return this;
    }

    private void open(int kind) {
        if (depth == openStart.length) {
            openStart = Arrays.copyOf(openStart, depth * 2);
            openKind = Arrays.copyOf(openKind, depth * 2);
            openCount = Arrays.copyOf(openCount, depth * 2);
        }
        openStart[depth] = size;
        openKind[depth] = (byte) kind;
        openCount[depth] = 0;
        depth++;
    }

    private void insertGap(int at, int n) {
        ensure(n);
        System.arraycopy(buf, at, buf, at + n, size - at);
        size += n;
    }

    /** Closes the innermost open object, filling in its PkgLength (and count or size). */
    public AmlWriter end() {
        if (depth == 0) {
            throw new IllegalStateException("end() without an open AML object");
        }
        int kind = openKind[depth - 1];
        if (kind == K_TEMPLATE) {
            // EndTag with a checksum making the whole template sum to zero (6.4.2.9).
            int start = openStart[depth - 1];
            int sum = 0x79;
            for (int i = start; i < size; i++) {
                sum += buf[i];
            }
            raw(0x79).raw(endTagChecksum ? -sum : 0);
        }
        depth--;
        int start = openStart[depth];
        int body = size - start;
        switch (kind) {
            case K_PKG -> {
                int len = pkgLengthFor(body);
                int n = len - body;
                insertGap(start, n);
                putPkgLength(buf, start, n, len);
            }
            case K_PACKAGE -> {
                int count = openCount[depth];
                if (count > 255) {
                    throw new IllegalStateException("a Package holds at most 255 elements, not " + count);
                }
                // The NumElements byte was reserved at open.
                buf[start] = (byte) count;
                int len = pkgLengthFor(body);
                int n = len - body;
                insertGap(start, n);
                putPkgLength(buf, start, n, len);
            }
            default -> { // K_BUFFER, K_TEMPLATE
                int sizeBytes = integerSize(body);
                int len = pkgLengthFor(body + sizeBytes);
                int n = len - body - sizeBytes;
                insertGap(start, n + sizeBytes);
                putPkgLength(buf, start, n, len);
                putInteger(buf, start + n, body);
            }
        }
        return this;
    }

    /** Counts one element of the enclosing Package, if any. */
    private void element() {
        if (depth > 0 && openKind[depth - 1] == K_PACKAGE) {
            openCount[depth - 1]++;
        }
    }

    // ---------------------------------------------------------------- names

    /** Writes a NameString (20.2.2): root/parent prefixes then a NameSeg, DualNamePath, MultiNamePath or NullName. */
    public AmlWriter nameString(String path) {
        int i = 0;
        int n = path.length();
        if (i < n && path.charAt(i) == '\\') {
            raw(ROOT_CHAR);
            i++;
        } else {
            while (i < n && path.charAt(i) == '^') {
                raw(PARENT_PREFIX_CHAR);
                i++;
            }
        }
        if (i == n) {
            return raw(0x00); // NullName
        }
        int segs = 1;
        for (int j = i; j < n; j++) {
            if (path.charAt(j) == '.') {
                segs++;
            }
        }
        if (segs == 2) {
            raw(DUAL_NAME_PREFIX);
        } else if (segs > 2) {
            if (segs > 255) {
                throw new IllegalArgumentException("too many name segments: " + path);
            }
            raw(MULTI_NAME_PREFIX).raw(segs);
        }
        int segStart = i;
        for (int j = i; j <= n; j++) {
            if (j == n || path.charAt(j) == '.') {
                nameSeg(path, segStart, j);
                segStart = j + 1;
            }
        }
        return this;
    }

    private void nameSeg(String path, int from, int to) {
        int len = to - from;
        if (len < 1 || len > 4) {
            throw new IllegalArgumentException("bad AML name segment in \"" + path + "\": 1 to 4 characters");
        }
        ensure(4);
        for (int k = 0; k < 4; k++) {
            char c = k < len ? path.charAt(from + k) : '_';
            boolean ok = (c >= 'A' && c <= 'Z') || c == '_' || (k > 0 && c >= '0' && c <= '9');
            if (!ok) {
                throw new IllegalArgumentException("bad character '" + c + "' in AML name \"" + path + "\"");
            }
            buf[size++] = (byte) c;
        }
    }

    /** A reference to a named object, as a term (e.g. a package element or a Return value). */
    public AmlWriter nameRef(String path) {
        element();
        return nameString(path);
    }

    /** DefName: {@code Name (name, <next data object>)}. Write the object next. */
    public AmlWriter name(String name) {
        raw(NAME_OP);
        return nameString(name);
    }

    /** DefScope: {@code Scope (path) { ... }}; close with {@link #end()}. */
    public AmlWriter beginScope(String path) {
        raw(SCOPE_OP);
        open(K_PKG);
        return nameString(path);
    }

    /** DefDevice: {@code Device (name) { ... }}; close with {@link #end()}. */
    public AmlWriter beginDevice(String name) {
        raw(EXT_OP_PREFIX).raw(DEVICE_OP);
        open(K_PKG);
        return nameString(name);
    }

    /** DefMethod with sync level 0; close with {@link #end()}. */
    public AmlWriter beginMethod(String name, int argCount, boolean serialized) {
        return beginMethod(name, argCount, serialized, 0);
    }

    /** DefMethod: {@code Method (name, argCount, Serialized|NotSerialized, syncLevel) { ... }}. */
    public AmlWriter beginMethod(String name, int argCount, boolean serialized, int syncLevel) {
        if (argCount < 0 || argCount > 7 || syncLevel < 0 || syncLevel > 15) {
            throw new IllegalArgumentException("method " + name + ": 0-7 args, sync level 0-15");
        }
        raw(METHOD_OP);
        open(K_PKG);
        nameString(name);
        return raw(argCount | (serialized ? 1 << 3 : 0) | (syncLevel << 4));
    }

    /** DefOpRegion: {@code OperationRegion (name, space, offset, length)}. */
    public AmlWriter opRegion(String name, int space, long offset, long length) {
        raw(EXT_OP_PREFIX).raw(OP_REGION_OP);
        nameString(name);
        raw(space);
        integer(offset);
        return integer(length);
    }

    /**
     * DefField: {@code Field (region, flags) { ... }} with flags from {@code ACC_*}, {@link #LOCK},
     * {@code UPDATE_*}; add {@link #field(String, int)} / {@link #reservedField(int)} entries,
     * close with {@link #end()}.
     */
    public AmlWriter beginField(String region, int flags) {
        raw(EXT_OP_PREFIX).raw(FIELD_OP);
        open(K_PKG);
        nameString(region);
        return raw(flags);
    }

    /** NamedField: a field unit of {@code bits} bits. */
    public AmlWriter field(String nameSeg, int bits) {
        if (nameSeg.indexOf('.') >= 0 || nameSeg.startsWith("\\") || nameSeg.startsWith("^")) {
            throw new IllegalArgumentException("a field unit takes a single NameSeg: " + nameSeg);
        }
        nameSeg(nameSeg, 0, nameSeg.length());
        return pkgLengthValue(bits);
    }

    /** ReservedField: skip {@code bits} bits ({@code Offset()} in ASL). */
    public AmlWriter reservedField(int bits) {
        raw(0x00);
        return pkgLengthValue(bits);
    }

    // ---------------------------------------------------------------- data

    /** Bytes {@link #integer(long)} takes for {@code v}. */
    public static int integerSize(long v) {
        if (v == 0 || v == 1 || v == -1) {
            return 1;
        } else if ((v & ~0xFFL) == 0) {
            return 2;
        } else if ((v & ~0xFFFFL) == 0) {
            return 3;
        } else if ((v & ~0xFFFF_FFFFL) == 0) {
            return 5;
        }
        return 9;
    }

    private static void putInteger(byte[] dst, int at, long v) {
        int n = integerSize(v);
        if (n == 1) {
            dst[at] = (byte) (v == 0 ? ZERO_OP : v == 1 ? ONE_OP : ONES_OP);
            return;
        }
        dst[at] = (byte) (n == 2 ? BYTE_PREFIX : n == 3 ? WORD_PREFIX : n == 5 ? DWORD_PREFIX : QWORD_PREFIX);
        for (int i = 1; i < n; i++) {
            dst[at + i] = (byte) (v >>> (8 * (i - 1)));
        }
    }

    /**
     * An integer in its shortest form: ZeroOp, OneOp, OnesOp (all ones, -1; the DSDT is revision 2,
     * so integers are 64-bit), else a Byte/Word/DWord/QWord constant.
     */
    public AmlWriter integer(long v) {
        element();
        ensure(9);
        putInteger(buf, size, v);
        size += integerSize(v);
        return this;
    }

    public AmlWriter zero() {
        element();
        return raw(ZERO_OP);
    }

    public AmlWriter one() {
        element();
        return raw(ONE_OP);
    }

    public AmlWriter ones() {
        element();
        return raw(ONES_OP);
    }

    /** A ByteConst, whatever the value. */
    public AmlWriter byteConst(int v) {
        element();
        return raw(BYTE_PREFIX).raw(v);
    }

    /** A WordConst, whatever the value. */
    public AmlWriter wordConst(int v) {
        element();
        raw(WORD_PREFIX);
        le16(v);
        return this;
    }

    /** A DWordConst, whatever the value. */
    public AmlWriter dwordConst(long v) {
        element();
        raw(DWORD_PREFIX);
        le32(v);
        return this;
    }

    /** A QWordConst, whatever the value. */
    public AmlWriter qwordConst(long v) {
        element();
        raw(QWORD_PREFIX);
        le64(v);
        return this;
    }

    /** A String: ASCII 0x01-0x7F, NUL-terminated. */
    public AmlWriter string(String s) {
        element();
        raw(STRING_PREFIX);
        ensure(s.length() + 1);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == 0 || c > 0x7F) {
                throw new IllegalArgumentException("AML strings are ASCII without NUL: " + s);
            }
            buf[size++] = (byte) c;
        }
        buf[size++] = 0;
        return this;
    }

    /**
     * The 32-bit compressed EISA id of {@code id} ("PNP0501": three letters of 5 bits each, then
     * four hex digits), as the integer ASL's {@code EisaId()} yields (bytes in id order).
     */
    public static long eisaIdValue(String id) {
        if (id.length() != 7) {
            throw new IllegalArgumentException("EISA id must be 3 letters and 4 hex digits: " + id);
        }
        int v = 0;
        for (int i = 0; i < 3; i++) {
            char c = id.charAt(i);
            if (c < 'A' || c > 'Z') {
                throw new IllegalArgumentException("EISA id must start with 3 letters A-Z: " + id);
            }
            v = (v << 5) | (c - 0x40);
        }
        for (int i = 3; i < 7; i++) {
            int d = Character.digit(id.charAt(i), 16);
            if (d < 0 || Character.isLowerCase(id.charAt(i))) {
                throw new IllegalArgumentException("EISA id must end with 4 hex digits 0-9A-F: " + id);
            }
            v = (v << 4) | d;
        }
        return Integer.reverseBytes(v) & 0xFFFF_FFFFL;
    }

    /** {@code EisaId("PNP0501")} as a DWordConst (as iasl writes it). */
    public AmlWriter eisaId(String id) {
        return dwordConst(eisaIdValue(id));
    }

    /** DefBuffer holding {@code bytes}. */
    public AmlWriter buffer(byte[] bytes) {
        return beginBuffer().raw(bytes).end();
    }

    /**
     * The 16 bytes ASL's {@code ToUUID ("aabbccdd-eeff-gghh-iijj-kkllmmnnoopp")} yields (ACPI 6.5
     * 19.6, ToUUID): the first three groups little-endian (dd cc bb aa, ff ee, hh gg), the last
     * two in string order (ii jj, kk ll mm nn oo pp), as a GUID is laid out in memory. Hex digits
     * in either case.
     */
    public static byte[] uuidBytes(String uuid) {
        if (!uuid.matches("\\p{XDigit}{8}-\\p{XDigit}{4}-\\p{XDigit}{4}-\\p{XDigit}{4}-\\p{XDigit}{12}")) {
            throw new IllegalArgumentException("a UUID is 8-4-4-4-12 hex digits: " + uuid);
        }
        String hex = uuid.replace("-", "");
        byte[] inOrder = new byte[16];
        for (int i = 0; i < 16; i++) {
            inOrder[i] = (byte) Integer.parseInt(hex, 2 * i, 2 * i + 2, 16);
        }
        byte[] b = inOrder.clone();
        for (int i = 0; i < 4; i++) {
            b[i] = inOrder[3 - i];
        }
        b[4] = inOrder[5];
        b[5] = inOrder[4];
        b[6] = inOrder[7];
        b[7] = inOrder[6];
        return b;
    }

    /** {@code ToUUID ("...")}: a 16-byte Buffer of {@link #uuidBytes(String)}, as iasl compiles it. */
    public AmlWriter toUuid(String uuid) {
        return buffer(uuidBytes(uuid));
    }

    /** DefBuffer: write raw bytes, close with {@link #end()}; the size is filled in. */
    public AmlWriter beginBuffer() {
        element();
        raw(BUFFER_OP);
        open(K_BUFFER);
        return this;
    }

    /** DefPackage: write the elements, close with {@link #end()}; NumElements is counted. */
    public AmlWriter beginPackage() {
        element();
        raw(PACKAGE_OP);
        open(K_PACKAGE);
        return raw(0); // NumElements, filled in by end()
    }

    // ---------------------------------------------------------------- statements and expressions

    /** DefReturn: {@code Return (<next term>)}. */
    public AmlWriter returnOp() {
        return raw(RETURN_OP);
    }

    /** DefStore: {@code Store (<source>, <target>)}: write both terms next. */
    public AmlWriter store() {
        element();
        return raw(STORE_OP);
    }

    /** {@code Add/And/Or (<a>, <b>, <target>)}: write a, b and a target (a name, a local or {@link #nullTarget()}). */
    public AmlWriter add() {
        element();
        return raw(ADD_OP);
    }

    public AmlWriter and() {
        element();
        return raw(AND_OP);
    }

    public AmlWriter or() {
        element();
        return raw(OR_OP);
    }

    /** {@code ShiftLeft (<value>, <count>, <target>)}: write the value, the count and a target. */
    public AmlWriter shiftLeft() {
        element();
        return raw(SHIFT_LEFT_OP);
    }

    /** {@code LEqual/LGreater/LLess/LAnd/LOr (<a>, <b>)}. */
    public AmlWriter lEqual() {
        element();
        return raw(LEQUAL_OP);
    }

    public AmlWriter lGreater() {
        element();
        return raw(LGREATER_OP);
    }

    public AmlWriter lLess() {
        element();
        return raw(LLESS_OP);
    }

    public AmlWriter lAnd() {
        element();
        return raw(LAND_OP);
    }

    public AmlWriter lOr() {
        element();
        return raw(LOR_OP);
    }

    /** {@code LNot (<a>)}. */
    public AmlWriter lNot() {
        element();
        return raw(LNOT_OP);
    }

    /**
     * {@code LNotEqual (<a>, <b>)}, ASL+ {@code (a != b)}: the grammar has no opcode of its own for
     * it, LNotEqualOp is LNotOp LEqualOp (20.2.5.4), i.e. {@code LNot (LEqual (a, b))}. With
     * Buffer operands, as with LEqual, the contents are compared (ACPI 6.5 19.6, LEqual).
     */
    public AmlWriter lNotEqual() {
        element();
        return raw(LNOT_OP).raw(LEQUAL_OP);
    }

    /** {@code Notify (<object>, <value>)}. */
    public AmlWriter notifyOp() {
        return raw(NOTIFY_OP);
    }

    /** DefMutex: {@code Mutex (name, syncLevel)} (ACPI 6.5, 19.6.89). */
    public AmlWriter mutex(String name, int syncLevel) {
        if (syncLevel < 0 || syncLevel > 15) {
            throw new IllegalArgumentException("mutex " + name + ": sync level 0-15");
        }
        raw(EXT_OP_PREFIX).raw(MUTEX_OP);
        nameString(name);
        return raw(syncLevel);
    }

    /**
     * DefAcquire: {@code Acquire (mutex, timeoutMs)}, 0xFFFF waiting forever (ACPI 6.5, 19.6.2).
     * As a statement its result (whether it timed out) is discarded.
     */
    public AmlWriter acquire(String mutex, int timeoutMs) {
        if (timeoutMs < 0 || timeoutMs > 0xFFFF) {
            throw new IllegalArgumentException("Acquire timeout is a WordData: " + timeoutMs);
        }
        raw(EXT_OP_PREFIX).raw(ACQUIRE_OP);
        nameString(mutex);
        le16(timeoutMs);
        return this;
    }

    /** DefRelease: {@code Release (mutex)}. */
    public AmlWriter release(String mutex) {
        raw(EXT_OP_PREFIX).raw(RELEASE_OP);
        return nameString(mutex);
    }

    /**
     * A MethodInvocation (20.2.5): the method's name; write its arguments next, as many terms as
     * the method declares (the interpreter reads that many, so the method must be known by then).
     */
    public AmlWriter call(String method) {
        element();
        return nameString(method);
    }

    /** LocalN, 0-7. */
    public AmlWriter local(int n) {
        if (n < 0 || n > 7) {
            throw new IllegalArgumentException("Local" + n);
        }
        element();
        return raw(LOCAL0_OP + n);
    }

    /** ArgN, 0-6. */
    public AmlWriter arg(int n) {
        if (n < 0 || n > 6) {
            throw new IllegalArgumentException("Arg" + n);
        }
        element();
        return raw(ARG0_OP + n);
    }

    /**
     * DefCreateDWordField (ACPI 6.5 20.2.5.2; 19.6, CreateDWordField):
     * {@code CreateDWordField (<buffer>, <byteIndex>, name)} declares {@code name} as the 32-bit
     * field at byte {@code byteIndex} of the buffer: stores to it change the buffer. Write the
     * buffer (a TermArg: an ArgN, a named Buffer...) and the byte index next, then the field's
     * name with {@link #nameString(String)}.
     */
    public AmlWriter createDWordField() {
        return raw(CREATE_DWORD_FIELD_OP);
    }

    /** The NullName target: the result of an operator is discarded. */
    public AmlWriter nullTarget() {
        return raw(0x00);
    }

    /** {@code If (<predicate>) { ... }}: write the predicate, then the body, close with {@link #end()}. */
    public AmlWriter beginIf() {
        raw(IF_OP);
        open(K_PKG);
        return this;
    }

    /** {@code Else { ... }}, right after an If's {@link #end()}; close with {@link #end()}. */
    public AmlWriter beginElse() {
        raw(ELSE_OP);
        open(K_PKG);
        return this;
    }

    // ---------------------------------------------------------------- resource templates (6.4)

    /**
     * {@code ResourceTemplate () { ... }}: a Buffer of resource descriptors; {@link #end()} adds
     * the EndTag with its checksum and fills in the buffer size.
     */
    public AmlWriter beginResourceTemplate() {
        element();
        raw(BUFFER_OP);
        open(K_TEMPLATE);
        return this;
    }

    /** I/O port descriptor (6.4.2.5), 16-bit decode: {@code IO (Decode16, min, max, align, length)}. */
    public AmlWriter io(int min, int max, int alignment, int length) {
        raw(0x47).raw(0x01);
        le16(min);
        le16(max);
        return raw(alignment).raw(length);
    }

    /** Fixed location I/O port descriptor (6.4.2.6): {@code FixedIO (base, length)}, 10-bit decode. */
    public AmlWriter fixedIo(int base, int length) {
        if (base < 0 || base > 0x3FF) {
            throw new IllegalArgumentException("FixedIO decodes 10 bits: " + base);
        }
        raw(0x4B);
        le16(base);
        return raw(length);
    }

    /** IRQ descriptor without flags (6.4.2.1): {@code IRQNoFlags () {irqs}}: edge, active high, exclusive. */
    public AmlWriter irqNoFlags(int... irqs) {
        raw(0x22);
        le16(irqMask(irqs));
        return this;
    }

    /** IRQ descriptor with flags: {@code IRQ (Edge|Level, ActiveHigh|ActiveLow, Exclusive|Shared) {irqs}}. */
    public AmlWriter irq(boolean edge, boolean activeLow, boolean shared, int... irqs) {
        raw(0x23);
        le16(irqMask(irqs));
        return raw((edge ? 1 : 0) | (activeLow ? 1 << 3 : 0) | (shared ? 1 << 4 : 0));
    }

    private static int irqMask(int[] irqs) {
        int mask = 0;
        for (int irq : irqs) {
            if (irq < 0 || irq > 15) {
                throw new IllegalArgumentException("IRQ descriptor takes ISA IRQs 0-15: " + irq);
            }
            mask |= 1 << irq;
        }
        return mask;
    }

    /**
     * Extended Interrupt descriptor (6.4.3.6): {@code Interrupt (ResourceConsumer|Producer,
     * Edge|Level, ActiveHigh|ActiveLow, Exclusive|Shared) {gsis}}.
     */
    public AmlWriter extendedInterrupt(boolean consumer, boolean edge, boolean activeLow, boolean shared, int... gsis) {
        if (gsis.length < 1 || gsis.length > 255) {
            throw new IllegalArgumentException("1 to 255 interrupts");
        }
        raw(0x89);
        le16(2 + 4 * gsis.length);
        raw((consumer ? 1 : 0) | (edge ? 1 << 1 : 0) | (activeLow ? 1 << 2 : 0) | (shared ? 1 << 3 : 0));
        raw(gsis.length);
        for (int gsi : gsis) {
            le32(gsi & 0xFFFF_FFFFL);
        }
        return this;
    }

    /** 32-bit fixed memory range descriptor (6.4.3.4): {@code Memory32Fixed (ReadWrite|ReadOnly, base, length)}. */
    public AmlWriter memory32Fixed(boolean readWrite, long base, long length) {
        raw(0x86);
        le16(9);
        raw(readWrite ? 1 : 0);
        le32(base);
        le32(length);
        return this;
    }

    /**
     * Word address space descriptor (6.4.3.5.3).
     *
     * @param type          {@link #ADDR_MEMORY}, {@link #ADDR_IO} or {@link #ADDR_BUS_NUMBER}
     * @param generalFlags  {@code ADDR_*} flags (consumer, decode, min/max fixed)
     * @param typeFlags     {@code MEM_*} or {@code IO_*} flags, 0 for bus numbers
     */
    public AmlWriter wordAddressSpace(int type, int generalFlags, int typeFlags,
                                      int granularity, int min, int max, int translation, int length) {
        raw(0x88);
        le16(13);
        raw(type).raw(generalFlags).raw(typeFlags);
        le16(granularity);
        le16(min);
        le16(max);
        le16(translation);
        le16(length);
        return this;
    }

    /** DWord address space descriptor (6.4.3.5.2); arguments as for {@link #wordAddressSpace}. */
    public AmlWriter dwordAddressSpace(int type, int generalFlags, int typeFlags,
                                       long granularity, long min, long max, long translation, long length) {
        raw(0x87);
        le16(23);
        raw(type).raw(generalFlags).raw(typeFlags);
        le32(granularity);
        le32(min);
        le32(max);
        le32(translation);
        le32(length);
        return this;
    }

    /** QWord address space descriptor (6.4.3.5.1); arguments as for {@link #wordAddressSpace}. */
    public AmlWriter qwordAddressSpace(int type, int generalFlags, int typeFlags,
                                       long granularity, long min, long max, long translation, long length) {
        raw(0x8A);
        le16(43);
        raw(type).raw(generalFlags).raw(typeFlags);
        le64(granularity);
        le64(min);
        le64(max);
        le64(translation);
        le64(length);
        return this;
    }

    /** {@code WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, count)}. */
    public AmlWriter wordBusNumber(int min, int max) {
        return wordAddressSpace(ADDR_BUS_NUMBER, ADDR_MIN_FIXED | ADDR_MAX_FIXED, 0,
            0, min, max, 0, max - min + 1);
    }

    /** {@code WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, len)}. */
    public AmlWriter wordIo(int min, int max) {
        return wordAddressSpace(ADDR_IO, ADDR_MIN_FIXED | ADDR_MAX_FIXED, IO_ENTIRE_RANGE,
            0, min, max, 0, max - min + 1);
    }

    /** {@code DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, cacheability, ReadWrite, ...)}. */
    public AmlWriter dwordMemory(int cacheability, long min, long max) {
        return dwordAddressSpace(ADDR_MEMORY, ADDR_MIN_FIXED | ADDR_MAX_FIXED, MEM_READ_WRITE | cacheability,
            0, min, max, 0, max - min + 1);
    }

    /** {@code QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, cacheability, ReadWrite, ...)}. */
    public AmlWriter qwordMemory(int cacheability, long min, long max) {
        return qwordAddressSpace(ADDR_MEMORY, ADDR_MIN_FIXED | ADDR_MAX_FIXED, MEM_READ_WRITE | cacheability,
            0, min, max, 0, max - min + 1);
    }
}
