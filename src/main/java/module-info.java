/**
 * jvisor, a virtual machine monitor for x86-64 guests, as a library: {@link org.jvisor.api}
 * builds and drives machines, {@link org.jvisor.config} describes them. Everything else (the CPU
 * engines, devices, backends, the machine builder, the command line) is internal. Native access
 * (java.lang.foreign: /dev/kvm, mmap, TAP devices) is needed: run with
 * {@code --enable-native-access=org.jvisor}.
 */
module org.jvisor {
    // com.sun.nio.file.ExtendedOpenOption.DIRECT: cache=none disk images (O_DIRECT).
    requires jdk.unsupported;
    // thread CPU time: what the tcg translator spends, reported by -d jit
    requires java.management;
    // the bytes a thread allocated: -trace migration's measure of the garbage made during the stop
    requires jdk.management;

    exports org.jvisor.api;
    exports org.jvisor.config;
}
