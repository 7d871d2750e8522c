package org.jvisor.devices.state;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Writes state records in jvisor's generic binary encoding, which {@link StateDecoder} reads back.
 * The encoding follows each record's components by reflection ({@link RecordComponent}), so a new
 * device record needs no code here. Big-endian throughout.
 *
 * <ul>
 * <li>Primitives: their fixed width ({@code boolean} one byte 0 or 1); a boxed one (in a list) the same after its presence byte.</li>
 * <li>Every reference value starts with a presence byte (0 null/empty, 1 present), then: a
 * {@code String} as a u32 length and UTF-8; {@link Bytes} as a u32 length and the bytes; an enum
 * constant by name (so reordering constants does not change meaning); a {@code List} as a u32 count
 * and the elements; an {@code Optional} as its value; a record as a type reference and its
 * components in declaration order.</li>
 * <li>A type reference is a u32 index into the stream's type table. The first reference to a
 * record type defines it inline: its class name, its layout version (a {@link DeviceState}'s
 * {@code VERSION}; 0 for a record nested in one, whose layout is its owner's), and each
 * component's name and generic type. The reader refuses a type whose version or components differ
 * from its own, naming both, so a layout change without a version bump is caught too.</li>
 * </ul>
 */
public final class StateEncoder {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final DataOutputStream out = new DataOutputStream(bytes);
    private final Map<Class<?>, Integer> types = new HashMap<>();
    /**
     * Each record type's components, looked up once per stream: {@link Class#getRecordComponents}
     * makes new objects whose generic types are parsed again on every call (a list of MSR records
     * would pay it per element).
     */
    private final Map<Class<?>, RecordComponent[]> components = new HashMap<>();

    /** Appends {@code value} as a value of declared type {@code declared} (a record class or an interface it implements). */
    public StateEncoder write(Type declared, Object value) {
        try {
            value(declared, value);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        return this;
    }

    /** Appends a state of any record type that implements {@link DeviceState}. */
    public StateEncoder writeState(DeviceState state) {
        return write(DeviceState.class, state);
    }

    /** Appends a u32. */
    public StateEncoder writeInt(int v) {
        try {
            out.writeInt(v);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    /** Appends a string (presence byte, length, UTF-8). */
    public StateEncoder writeString(String s) {
        return write(String.class, s);
    }

    public byte[] toByteArray() {
        return bytes.toByteArray();
    }

    private void value(Type declared, Object v) throws IOException {
        if (declared instanceof Class<?> c && c.isPrimitive()) {
            primitive(c, v);
            return;
        }
        Class<?> raw = StateTypes.raw(declared);
        if (raw == Optional.class) {
            Optional<?> o = (Optional<?>) v;
            out.writeByte(o != null && o.isPresent() ? 1 : 0);
            if (o != null && o.isPresent()) {
                value(StateTypes.argument(declared), o.get());
            }
            return;
        }
        out.writeByte(v == null ? 0 : 1);
        if (v == null) {
            return;
        }
        if (StateTypes.unboxed(raw) != null) {
            primitive(StateTypes.unboxed(raw), v);
        } else if (raw == String.class) {
            byte[] b = ((String) v).getBytes(StandardCharsets.UTF_8);
            out.writeInt(b.length);
            out.write(b);
        } else if (raw == Bytes.class) {
            Bytes b = (Bytes) v;
            out.writeInt(b.length());
            out.write(b.toArray());
        } else if (raw.isEnum()) {
            byte[] b = ((Enum<?>) v).name().getBytes(StandardCharsets.UTF_8);
            out.writeInt(b.length);
            out.write(b);
        } else if (raw == List.class) {
            List<?> list = (List<?>) v;
            out.writeInt(list.size());
            Type element = StateTypes.argument(declared);
            for (Object e : list) {
                value(element, e);
            }
        } else if (v instanceof Record r && raw.isInstance(v)) {
            record(r);
        } else {
            throw new IllegalArgumentException("cannot encode a " + v.getClass().getName() + " declared as "
                + declared.getTypeName() + " (records may hold primitives, enums, String, Bytes, List, Optional and records)");
        }
    }

    private void primitive(Class<?> c, Object v) throws IOException {
        if (c == boolean.class) {
            out.writeByte((Boolean) v ? 1 : 0);
        } else if (c == byte.class) {
            out.writeByte((Byte) v);
        } else if (c == short.class) {
            out.writeShort((Short) v);
        } else if (c == char.class) {
            out.writeChar((Character) v);
        } else if (c == int.class) {
            out.writeInt((Integer) v);
        } else if (c == long.class) {
            out.writeLong((Long) v);
        } else if (c == float.class) {
            out.writeInt(Float.floatToRawIntBits((Float) v));
        } else {
            out.writeLong(Double.doubleToRawLongBits((Double) v));
        }
    }

    private void record(Record r) throws IOException {
        Class<?> type = r.getClass();
        Integer id = types.get(type);
        if (id != null) {
            out.writeInt(id);
        } else {
            id = types.size();
            types.put(type, id);
            out.writeInt(id);
            StateTypes.Layout layout = StateTypes.layout(type);
            if (r instanceof DeviceState ds && ds.version() != layout.version()) {
                throw new IllegalStateException(type.getName() + ".version() is " + ds.version() + " but its VERSION is "
                    + layout.version());
            }
            value(String.class, type.getName());
            out.writeInt(layout.version());
            out.writeInt(layout.components().size());
            for (StateTypes.Component c : layout.components()) {
                value(String.class, c.name());
                value(String.class, c.typeName());
            }
        }
        for (RecordComponent c : components.computeIfAbsent(type, Class::getRecordComponents)) {
            Object v;
            try {
                v = c.getAccessor().invoke(r);
            } catch (IllegalAccessException | InvocationTargetException e) {
                throw new IllegalStateException("reading " + type.getSimpleName() + "." + c.getName(), e);
            }
            value(c.getGenericType(), v);
        }
    }

    /** The generic type {@code List<element>}, for writing a list of records at the top level. */
    public static Type listOf(Class<?> element) {
        return new ParameterizedType() {
            @Override
            public Type[] getActualTypeArguments() {
                return new Type[] {element};
            }

            @Override
            public Type getRawType() {
                return List.class;
            }

            @Override
            public Type getOwnerType() {
                return null;
            }

            @Override
            public String getTypeName() {
                return "java.util.List<" + element.getTypeName() + ">";
            }
        };
    }
}
