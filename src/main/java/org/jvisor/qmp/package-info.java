/**
 * QMP, the QEMU Machine Protocol, as QEMU 7.2 speaks it (docs/interop/qmp-spec.txt): monitors on
 * Unix or TCP sockets ({@link org.jvisor.qmp.QmpMonitors}, configured by
 * {@link org.jvisor.qmp.MonitorConfig}) that drive a machine through the public API
 * ({@link org.jvisor.api.VirtualMachine}) only. Replies, errors and events have QEMU's shapes and
 * texts, so QEMU's management tools and scripts work unchanged.
 */
package org.jvisor.qmp;
