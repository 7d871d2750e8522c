package org.jvisor.qmp;

import java.util.function.Consumer;

import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * What a monitor serves: the version in its greeting, its commands, and its events. A machine's
 * QMP monitor ({@link QmpCommands}) and the server's control socket ({@link ControlCommands}) are
 * the two; sessions, framing and negotiation are the same for both.
 */
interface QmpService {

    /** The greeting's and query-version's version object. */
    JsonObject version();

    QmpCommandTable commands();

    /** Calls {@code sink} with each event from now on, as QMP sends it; closing stops it. */
    AutoCloseable subscribe(Consumer<JsonObject> sink);
}
