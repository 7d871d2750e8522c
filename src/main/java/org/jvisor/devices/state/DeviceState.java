package org.jvisor.devices.state;

/**
 * The architectural state of one device model as an immutable record (see the package
 * description for what belongs in it and how time is expressed). Each record type has its own
 * format version, so a snapshot file can say which layout it holds and a later jvisor can read
 * older ones or refuse them by name.
 */
public interface DeviceState {

    /** The layout version of this record type; bumped whenever a component is added, removed or changes meaning. */
    int version();
}
