package org.jvisor.testing;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import java.io.PrintWriter;
import java.lang.reflect.Method;
import java.util.Arrays;

import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Runs one JUnit test method, {@code CLASS#METHOD}, outside Maven: how a fuzz target runs in
 * fuzzing mode (Jazzer fuzzes one {@code @FuzzTest} per JVM). With {@code JAZZER_FUZZ=1} in the
 * environment and {@code -Djazzer.hooks=true} (junit-platform.properties turns instrumentation
 * off for the replays in {@code mvn verify}) Jazzer fuzzes it, {@code JAZZER_MAX_DURATION=60s}
 * overriding the target's own duration; without them the saved inputs are replayed. Prints the summary and each failure's
 * stack trace; exits 0 when everything passed, 1 when something failed, 2 when nothing ran.
 * {@code bench/fuzz.sh} and {@link FuzzerCoverageTest} start it.
 */
public final class FuzzRunner {
    private FuzzRunner() {
    }

    public static void main(String[] args) throws ClassNotFoundException {
        if (args.length != 1 || !args[0].contains("#")) {
            System.err.println("usage: FuzzRunner CLASS#METHOD");
            System.exit(2);
        }
        String className = args[0].substring(0, args[0].indexOf('#'));
        String methodName = args[0].substring(args[0].indexOf('#') + 1);
        Class<?> testClass = Class.forName(className);
        Method method = Arrays.stream(testClass.getDeclaredMethods())
            .filter(m -> m.getName().equals(methodName))
            .findFirst()
            .orElse(null);
        if (method == null) {
            System.err.println("FuzzRunner: no method " + methodName + " in " + className);
            System.exit(2);
        }
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
            .selectors(selectMethod(testClass, method))
            .build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(request, listener);
        TestExecutionSummary summary = listener.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        summary.printTo(out);
        summary.printFailuresTo(out, 50);
        out.flush();
        if (summary.getTestsFoundCount() == 0) {
            System.exit(2);
        }
        System.exit(summary.getTotalFailureCount() == 0 ? 0 : 1);
    }
}
