package org.jvisor.devices.intc;

import java.util.List;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of a {@link LocalApic} (Intel SDM vol. 3, 10.4-10.8 and 10.12): the
 * register page, the 256-bit IRR/ISR/TMR (32 little-endian bytes each, bit v = vector v), the
 * APIC timer with its deadline, the LINT pin levels and the NMI/ExtINT latches. The deliverable
 * vector and the ExtINT wire are derived; times are guest ns relative to the save.
 *
 * @param apicId           the APIC ID
 * @param apicBase         IA32_APIC_BASE
 * @param tpr              task priority
 * @param ldr              logical destination
 * @param dfr              destination format
 * @param svr              spurious-interrupt vector register
 * @param esr              error status as last latched by a write
 * @param esrPending       errors since that latch
 * @param icrLow           interrupt command, low half
 * @param icrHigh          interrupt command, high half
 * @param lvt              the six LVT entries: timer, thermal, performance, LINT0, LINT1, error
 * @param irr              interrupt request register
 * @param isr              in-service register
 * @param tmr              trigger mode register
 * @param divideConfig     timer divide configuration
 * @param initialCount     timer initial count
 * @param timerArmed       the timer will fire (one-shot, periodic or TSC deadline)
 * @param timerStartNs     when the current period began (ns relative to the save; 0 unless armed)
 * @param timerDeadlineNs  when the timer fires (ns relative to the save; 0 unless armed)
 * @param tscDeadlineSet   IA32_TSC_DEADLINE is armed
 * @param tscDeadlineNs    its deadline (ns relative to the save; 0 unless set)
 * @param lint0            the LINT0 pin's level
 * @param lint1            the LINT1 pin's level
 * @param nmiPending       an NMI waits to be taken
 * @param extIntPending    an ExtINT message waits to be acknowledged
 */
public record LocalApicState(int apicId, long apicBase, int tpr, int ldr, int dfr, int svr, int esr, int esrPending,
                             int icrLow, int icrHigh, List<Integer> lvt, Bytes irr, Bytes isr, Bytes tmr,
                             int divideConfig, int initialCount, boolean timerArmed, long timerStartNs,
                             long timerDeadlineNs, boolean tscDeadlineSet, long tscDeadlineNs, boolean lint0,
                             boolean lint1, boolean nmiPending, boolean extIntPending) implements DeviceState {
    public static final int VERSION = 1;

    public LocalApicState {
        lvt = List.copyOf(lvt);
    }

    @Override
    public int version() {
        return VERSION;
    }
}
