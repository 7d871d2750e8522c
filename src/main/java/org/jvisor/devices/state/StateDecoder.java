package org.jvisor.devices.state;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Reads what {@link StateEncoder} wrote (its description has the encoding). The input is
 * untrusted: a truncated or corrupted stream, an unknown or unexpected record type, a layout this
 * jvisor does not have, or values a record's constructor refuses all end in a
 * {@link DeviceStateException} whose message says what and where (the byte offset); nothing is
 * allocated beyond what the remaining input can hold.
 */
public final class StateDecoder {
    /** Only jvisor's own records are instantiated from a stream. */
    private static final String OWN_PACKAGE = "org.jvisor.";

    private record Known(Class<?> type, Constructor<?> constructor, RecordComponent[] components) {
    }

    private final ByteBuffer in;
    private final String what;
    private final List<Known> types = new ArrayList<>();

    /** @param what the stream's name for messages (e.g. "section DEVS") */
    public StateDecoder(byte[] data, String what) {
        this.in = ByteBuffer.wrap(data);
        this.what = what;
    }

    /** Reads a value of declared type {@code type} (a record class, or an interface its records implement). */
    public <T> T read(Class<T> type) throws DeviceStateException {
        return type.cast(read((Type) type));
    }

    /** Reads a value of generic type {@code type} (e.g. {@link StateEncoder#listOf}). */
    public Object read(Type type) throws DeviceStateException {
        try {
            return value(type);
        } catch (BufferUnderflowException e) {
            throw new DeviceStateException(String.format("%s is truncated: it ends at byte %d in the middle of a value",
                what, in.limit()), e);
        }
    }

    public DeviceState readState() throws DeviceStateException {
        return read(DeviceState.class);
    }

    public int readInt() throws DeviceStateException {
        need(4);
        return in.getInt();
    }

    public String readString() throws DeviceStateException {
        return read(String.class);
    }

    /** Refuses bytes left over after the last value (a stream longer than what was written). */
    public void expectEnd() throws DeviceStateException {
        if (in.hasRemaining()) {
            throw new DeviceStateException(String.format("%s has %d bytes after its last value", what, in.remaining()));
        }
    }

    private void need(long n) throws DeviceStateException {
        if (n < 0 || n > in.remaining()) {
            throw new DeviceStateException(String.format("%s is truncated or corrupt: %d bytes needed at byte %d, %d left",
                what, n, in.position(), in.remaining()));
        }
    }

    private Object value(Type declared) throws DeviceStateException {
        if (declared instanceof Class<?> c && c.isPrimitive()) {
            return primitive(c);
        }
        Class<?> raw = StateTypes.raw(declared);
        int at = in.position();
        need(1);
        int presence = in.get();
        if (presence != 0 && presence != 1) {
            throw new DeviceStateException(String.format("%s is corrupt: byte %d should say whether a %s is present, not %d",
                what, at, raw.getSimpleName(), presence));
        }
        if (raw == Optional.class) {
            if (presence == 0) {
                return Optional.empty();
            }
            Object inner = value(StateTypes.argument(declared));
            if (inner == null) {
                throw new DeviceStateException(String.format("%s is corrupt: a present Optional holds nothing (byte %d)",
                    what, at));
            }
            return Optional.of(inner);
        }
        if (presence == 0) {
            return null;
        }
        if (StateTypes.unboxed(raw) != null) {
            return primitive(StateTypes.unboxed(raw));
        }
        if (raw == String.class) {
            return utf8(length());
        }
        if (raw == Bytes.class) {
            byte[] b = new byte[length()];
            in.get(b);
            return Bytes.copyOf(b);
        }
        if (raw.isEnum()) {
            String name = utf8(length());
            for (Object constant : raw.getEnumConstants()) {
                if (((Enum<?>) constant).name().equals(name)) {
                    return constant;
                }
            }
            throw new DeviceStateException(String.format("%s: %s has no constant %s (byte %d)", what,
                raw.getSimpleName(), name, at));
        }
        if (raw == List.class) {
            int n = length(); // each element takes at least a byte
            Type element = StateTypes.argument(declared);
            List<Object> list = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                Object e = value(element);
                if (e == null) {
                    throw new DeviceStateException(String.format("%s: a list holds a missing %s (byte %d)", what,
                        StateTypes.raw(element).getSimpleName(), at));
                }
                list.add(e);
            }
            return List.copyOf(list);
        }
        return record(raw);
    }

    private int length() throws DeviceStateException {
        need(4);
        int n = in.getInt();
        need(n);
        return n;
    }

    private String utf8(int n) throws DeviceStateException {
        ByteBuffer slice = in.slice(in.position(), n);
        in.position(in.position() + n);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .decode(slice).toString();
        } catch (CharacterCodingException e) {
            throw new DeviceStateException(what + ": a string is not UTF-8", e);
        }
    }

    private Object primitive(Class<?> c) throws DeviceStateException {
        if (c == boolean.class) {
            need(1);
            byte b = in.get();
            if (b != 0 && b != 1) {
                throw new DeviceStateException(String.format("%s is corrupt: a boolean at byte %d is %d",
                    what, in.position() - 1, b));
            }
            return b == 1;
        }
        if (c == byte.class) {
            need(1);
            return in.get();
        }
        if (c == short.class) {
            need(2);
            return in.getShort();
        }
        if (c == char.class) {
            need(2);
            return in.getChar();
        }
        if (c == int.class) {
            need(4);
            return in.getInt();
        }
        if (c == long.class) {
            need(8);
            return in.getLong();
        }
        if (c == float.class) {
            need(4);
            return Float.intBitsToFloat(in.getInt());
        }
        need(8);
        return Double.longBitsToDouble(in.getLong());
    }

    private Object record(Class<?> declared) throws DeviceStateException {
        int at = in.position();
        need(4);
        int id = in.getInt();
        Known known;
        if (id >= 0 && id < types.size()) {
            known = types.get(id);
        } else if (id == types.size()) {
            known = define();
            types.add(known);
        } else {
            throw new DeviceStateException(String.format("%s is corrupt: type reference %d at byte %d (%d types defined)",
                what, id, at, types.size()));
        }
        if (!declared.isAssignableFrom(known.type())) {
            throw new DeviceStateException(String.format("%s: a %s stands where a %s belongs (byte %d)", what,
                known.type().getSimpleName(), declared.getSimpleName(), at));
        }
        Object[] args = new Object[known.components().length];
        for (int i = 0; i < args.length; i++) {
            args[i] = value(known.components()[i].getGenericType());
        }
        try {
            return known.constructor().newInstance(args);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            throw new DeviceStateException(String.format("%s: the %s at byte %d is refused: %s", what,
                known.type().getSimpleName(), at, cause), cause);
        } catch (ReflectiveOperationException | IllegalArgumentException e) {
            throw new DeviceStateException(what + ": cannot build a " + known.type().getSimpleName() + ": " + e, e);
        }
    }

    /** A type defined inline: resolved to this jvisor's record of that name, whose layout must be the same. */
    private Known define() throws DeviceStateException {
        String name = read(String.class);
        need(8);
        int version = in.getInt();
        int count = in.getInt();
        need(count);
        List<StateTypes.Component> theirs = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            String component = read(String.class);
            String type = read(String.class);
            if (component == null || type == null) {
                throw new DeviceStateException(String.format("%s is corrupt: type %s has a component without a name or"
                    + " type (byte %d)", what, name, in.position()));
            }
            theirs.add(new StateTypes.Component(component, type));
        }
        if (name == null || !name.startsWith(OWN_PACKAGE)) {
            throw new DeviceStateException(what + ": the state names a type that is not jvisor's: " + name);
        }
        Class<?> type;
        try {
            type = Class.forName(name, false, StateDecoder.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new DeviceStateException(what + ": the state holds a " + name + ", which this jvisor does not have", e);
        }
        if (!type.isRecord()) {
            throw new DeviceStateException(what + ": " + name + " is not a state record");
        }
        StateTypes.Layout ours = StateTypes.layout(type);
        String simple = type.getName().substring(type.getName().lastIndexOf('.') + 1).replace('$', '.');
        if (version != ours.version()) {
            throw new DeviceStateException(String.format("%s: the state holds %s version %d; this jvisor reads version %d",
                what, simple, version, ours.version()));
        }
        if (!theirs.equals(ours.components())) {
            throw new DeviceStateException(String.format("%s: the state's %s (version %d) has components %s; this jvisor's"
                + " has %s", what, simple, version, theirs, ours.components()));
        }
        RecordComponent[] components = type.getRecordComponents();
        Class<?>[] params = Arrays.stream(components).map(RecordComponent::getType).toArray(Class<?>[]::new);
        try {
            return new Known(type, type.getDeclaredConstructor(params), components);
        } catch (NoSuchMethodException e) {
            throw new DeviceStateException(what + ": " + name + " has no canonical constructor", e);
        }
    }
}
