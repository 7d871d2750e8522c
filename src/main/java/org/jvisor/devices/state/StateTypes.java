package org.jvisor.devices.state;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.List;

/** What {@link StateEncoder} and {@link StateDecoder} know of a record type: its layout version and components. */
final class StateTypes {
    private StateTypes() {
    }

    /** One component: its name and generic type as {@link Type#getTypeName()} spells it. */
    record Component(String name, String typeName) {
        @Override
        public String toString() {
            return typeName.replaceAll("[a-z0-9_.]+\\.", "").replace('$', '.') + " " + name;
        }
    }

    /** A record type's layout: its version and components in declaration order. */
    record Layout(int version, List<Component> components) {
    }

    static Layout layout(Class<?> recordType) {
        List<Component> components = new ArrayList<>();
        for (RecordComponent c : recordType.getRecordComponents()) {
            components.add(new Component(c.getName(), c.getGenericType().getTypeName()));
        }
        return new Layout(version(recordType), components);
    }

    /**
     * A {@link DeviceState} record's {@code public static final int VERSION}; 0 for a record that
     * is only ever nested in one (its layout is part of its owner's).
     */
    static int version(Class<?> recordType) {
        if (!DeviceState.class.isAssignableFrom(recordType)) {
            return 0;
        }
        try {
            Field f = recordType.getField("VERSION");
            if (f.getType() != int.class || !Modifier.isStatic(f.getModifiers())) {
                throw new IllegalStateException(recordType.getName() + ".VERSION is not a static int");
            }
            return f.getInt(null);
        } catch (NoSuchFieldException | IllegalAccessException e) {
            throw new IllegalStateException(recordType.getName() + " has no public static final int VERSION", e);
        }
    }

    /** The primitive of a wrapper class ({@code Long} to {@code long}), or null. */
    static Class<?> unboxed(Class<?> c) {
        return c == Long.class ? long.class : c == Integer.class ? int.class : c == Boolean.class ? boolean.class
            : c == Short.class ? short.class : c == Byte.class ? byte.class : c == Character.class ? char.class
            : c == Float.class ? float.class : c == Double.class ? double.class : null;
    }

    static Class<?> raw(Type t) {
        if (t instanceof Class<?> c) {
            return c;
        }
        if (t instanceof ParameterizedType p) {
            return (Class<?>) p.getRawType();
        }
        throw new IllegalArgumentException("unsupported component type " + t.getTypeName());
    }

    /** The one type argument of {@code List<T>} or {@code Optional<T>}. */
    static Type argument(Type t) {
        if (t instanceof ParameterizedType p && p.getActualTypeArguments().length == 1) {
            return p.getActualTypeArguments()[0];
        }
        throw new IllegalArgumentException(t.getTypeName() + " needs its element type (a raw List or Optional cannot be encoded)");
    }
}
