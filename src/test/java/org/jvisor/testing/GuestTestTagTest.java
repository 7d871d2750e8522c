package org.jvisor.testing;

import java.io.IOException;
import java.lang.classfile.Attributes;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.MethodModel;
import java.lang.classfile.attribute.RuntimeVisibleAnnotationsAttribute;
import java.lang.classfile.constantpool.MemberRefEntry;
import java.lang.classfile.constantpool.PoolEntry;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Keeps {@code mvn test} fast as tests are added: a test class that starts jvisor, builds a
 * {@code Machine}, loads a test guest or builds the demo guest must carry {@link GuestTest}, so
 * that surefire leaves it to failsafe. Read from the compiled test classes (the calls in their
 * constant pools, the annotations on them), so it holds for tests nobody has written yet.
 */
class GuestTestTagTest {
    /** Calls that boot or start something, as owner.name in internal form. */
    private static final Set<String> GUEST_CALLS = Set.of(
        "org/jvisor/testing/JvisorProcess.run",
        "org/jvisor/testing/JvisorProcess.guest",
        "org/jvisor/testing/JvisorSession.start",
        "org/jvisor/machine/Machine.create",
        "org/jvisor/guest/GuestBuilder.build",
        "org/jvisor/guest/GuestBuilder.existing");
    private static final String GUEST_TEST = "Lorg/jvisor/testing/GuestTest;";
    /** The annotations that make a method a JUnit Jupiter test. */
    private static final Set<String> TEST_METHODS = Set.of(
        "Lorg/junit/jupiter/api/Test;",
        "Lorg/junit/jupiter/api/RepeatedTest;",
        "Lorg/junit/jupiter/api/TestFactory;",
        "Lorg/junit/jupiter/api/TestTemplate;",
        "Lorg/junit/jupiter/params/ParameterizedTest;");

    /** What one source file's classes (a top-level class and its nested ones) hold. */
    private static final class TopLevel {
        final Set<String> guestCalls = new TreeSet<>();
        boolean hasTests;
        boolean tagged;
    }

    @Test
    void testClassesThatBootGuestsOrStartJvisorAreGuestTests() throws IOException, URISyntaxException {
        Map<String, TopLevel> classes = scan(testClassesRoot());
        // The scan must see the tests of this tree, or the check below proves nothing.
        TopLevel demo = classes.get("org/jvisor/machine/DemoGuestBootTest");
        assertTrue(demo != null && demo.hasTests && demo.tagged && !demo.guestCalls.isEmpty(),
            "the scan of the test classes did not find DemoGuestBootTest as a tagged guest test");

        List<String> untagged = new ArrayList<>();
        classes.forEach((name, c) -> {
            if (c.hasTests && !c.tagged && !c.guestCalls.isEmpty()) {
                untagged.add(name.replace('/', '.') + " calls " + String.join(", ", c.guestCalls));
            }
        });
        assertTrue(untagged.isEmpty(), "these test classes boot a guest or start jvisor but are not @GuestTest"
            + " (org.jvisor.testing.GuestTest), so `mvn test` would run them:\n  " + String.join("\n  ", untagged));
    }

    private static Path testClassesRoot() throws URISyntaxException {
        return Path.of(GuestTestTagTest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static Map<String, TopLevel> scan(Path root) throws IOException {
        Map<String, TopLevel> classes = new TreeMap<>();
        List<Path> files;
        try (Stream<Path> walk = Files.walk(root)) {
            files = walk.filter(p -> p.getFileName().toString().endsWith(".class")).toList();
        }
        for (Path f : files) {
            ClassModel cm = ClassFile.of().parse(f);
            String name = cm.thisClass().asInternalName();
            int nested = name.indexOf('$');
            TopLevel top = classes.computeIfAbsent(nested < 0 ? name : name.substring(0, nested), k -> new TopLevel());
            if (nested < 0) {
                top.tagged = annotations(cm.findAttribute(Attributes.runtimeVisibleAnnotations())).contains(GUEST_TEST);
            }
            for (MethodModel m : cm.methods()) {
                if (annotations(m.findAttribute(Attributes.runtimeVisibleAnnotations())).stream()
                        .anyMatch(TEST_METHODS::contains)) {
                    top.hasTests = true;
                }
            }
            for (PoolEntry e : cm.constantPool()) {
                if (e instanceof MemberRefEntry ref) {
                    String call = ref.owner().asInternalName() + "." + ref.name().stringValue();
                    if (GUEST_CALLS.contains(call)) {
                        top.guestCalls.add(call.substring(call.lastIndexOf('/') + 1));
                    }
                }
            }
        }
        return classes;
    }

    private static List<String> annotations(Optional<RuntimeVisibleAnnotationsAttribute> attribute) {
        return attribute.map(a -> a.annotations().stream().map(an -> an.className().stringValue()).toList()).orElse(List.of());
    }
}
