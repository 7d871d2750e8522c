package org.jvisor.cpu;

/** GDTR or IDTR: a linear base and a limit (SDM vol. 3, 2.4). */
public final class DescriptorTable {
    public long base;
    public int limit;

    public void copyFrom(DescriptorTable o) {
        base = o.base;
        limit = o.limit;
    }
}
