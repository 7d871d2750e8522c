package org.jvisor.qmp.json;

/**
 * Input that is not JSON (or not the JSON QEMU accepts). The message is QEMU's error text, as QMP
 * puts it in a GenericError's "desc": "JSON parse error, ...".
 */
public final class JsonParseException extends Exception {
    public JsonParseException(String message) {
        super(message);
    }
}
