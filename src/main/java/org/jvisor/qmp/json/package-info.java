/**
 * JSON as QMP reads and writes it: a value model after QEMU's QObject, a streaming parser for a
 * socket's byte stream (bounded, with QEMU's extensions and error texts) and a writer for QEMU's
 * output forms.
 */
package org.jvisor.qmp.json;
