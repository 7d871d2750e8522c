/**
 * Device state as data: what a snapshot (and later live migration) saves of a device model, apart
 * from its wiring.
 *
 * <ul>
 * <li>{@link org.jvisor.devices.state.DeviceState}: an immutable record of one device's
 * architectural state (registers, FIFO contents, latches, timer deadlines), with a format version.
 * It never holds backends, threads or IRQ lines.</li>
 * <li>{@link org.jvisor.devices.state.StatefulDevice}: a device that saves and restores such a
 * record. Restore validates what it reads ({@link org.jvisor.devices.state.DeviceStateException}
 * names the field) and recomputes derived state: IRQ line levels, pending vectors, timers armed on
 * the new machine's clock.</li>
 * <li>{@link org.jvisor.devices.state.Bytes}: an immutable byte string, for FIFOs, register files
 * and bitmaps inside records (records compare arrays by identity; this compares contents).</li>
 * <li>{@link org.jvisor.devices.state.StateEncoder} / {@link org.jvisor.devices.state.StateDecoder}:
 * the generic binary encoding of these records in snapshot files, driven by each record's
 * components; the decoder treats its input as untrusted and checks every record type's layout
 * version and components against this jvisor's.</li>
 * </ul>
 *
 * <p>A record type that implements {@code DeviceState} declares {@code public static final int
 * VERSION} and returns it from {@code version()}; records nested in it (a PIC chip, a PIT channel)
 * are part of its layout. Bump {@code VERSION} whenever a component is added, removed or changes
 * meaning; a file written with another version is then refused by name.
 *
 * <p>Time: a record holds no absolute clock reading. Deadlines and origins are guest nanoseconds
 * relative to the device's guest clock (the machine's {@code TimerQueue} clock) at the moment of
 * the save: a deadline 3 ms ahead is stored as +3,000,000, the origin of a counter that has run for
 * 2 s as -2,000,000,000. A restore adds the new clock's reading, so timers resume where they
 * stopped on any host and after any pause, as a stopped guest's clock would.
 */
package org.jvisor.devices.state;
