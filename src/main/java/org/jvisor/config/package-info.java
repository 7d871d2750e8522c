/**
 * The configuration model of a jvisor machine: immutable records that the command line fills
 * ({@code org.jvisor.cli}) and that a Java program embedding jvisor builds with
 * {@link org.jvisor.config.MachineConfig#builder()}. A leaf: it depends on the JDK only, and the
 * machine builder reads it.
 */
package org.jvisor.config;
