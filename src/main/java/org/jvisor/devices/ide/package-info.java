/**
 * The PC's IDE controller as QEMU's {@code pc} machine has it: the PIIX3 IDE function (00:01.1,
 * 8086:7010) with two legacy channels (ports 0x1F0-0x1F7/0x3F6 on ISA IRQ 14, 0x170-0x177/0x376 on
 * IRQ 15), bus-master DMA in BAR4, and on each channel up to two drives: ATA disks and ATAPI
 * CD-ROMs.
 *
 * <ul>
 * <li>{@link org.jvisor.devices.ide.IdeChannel}: one channel's command and control block registers,
 * drive select, device control (nIEN, SRST) and its interrupt line;</li>
 * <li>{@link org.jvisor.devices.ide.AtaDisk} and {@link org.jvisor.devices.ide.AtapiCdrom}: the
 * drives, state machines that execute commands on a {@code BlockBackend};</li>
 * <li>{@link org.jvisor.devices.ide.BusMasterDma} and {@link org.jvisor.devices.ide.PrdTable}: the
 * SFF-8038i bus master and its physical region descriptor tables;</li>
 * <li>{@link org.jvisor.devices.ide.Piix3Ide}: the PCI function around them.</li>
 * </ul>
 *
 * References: ATA/ATAPI-6 (T13/1410D) and ACS-3 for the commands and protocols, SFF-8038i for bus
 * mastering, the 82371SB (PIIX3) datasheet for configuration space, MMC-6 and SPC-4 for ATAPI.
 */
package org.jvisor.devices.ide;
