/**
 * An AHCI SATA host bus adapter as QEMU's q35 machine has it: Intel's ICH9 SATA function in AHCI
 * mode (00:1f.2, 8086:2922, class 01:06:01), six ports, each with one ATA disk or ATAPI CD-ROM.
 *
 * <ul>
 * <li>{@link org.jvisor.devices.ahci.AhciHba}: the HBA's memory registers (ABAR): the generic host
 * control block (CAP, GHC, IS, PI, VS) and the ports, and the interrupt they raise;</li>
 * <li>{@link org.jvisor.devices.ahci.AhciPort}: one port's registers and its command engine: the
 * command list and received-FIS area in guest memory, command tables with a Register H2D FIS, an
 * ATAPI command and a PRDT ({@link org.jvisor.devices.ahci.AhciPrdt}), the D2H and PIO Setup FISes
 * it posts back ({@link org.jvisor.devices.ahci.Fis});</li>
 * <li>{@link org.jvisor.devices.ahci.Ich9Ahci}: the PCI function around them (BAR5 ABAR, BAR4 the
 * index/data pair, MSI and INTA#).</li>
 * </ul>
 * The drives are {@code org.jvisor.devices.ide}'s {@code AtaDisk} and {@code AtapiCdrom}: the ATA
 * and ATAPI command layer is the same behind a parallel channel and behind a SATA port, only the
 * transport differs (QEMU's hw/ide/ahci.c reuses its IDE core the same way).
 *
 * <p>References: Serial ATA AHCI 1.3.1 (register map 3.x, command list and FIS structures 4.2,
 * command processing 5.x, error handling 6.x), Serial ATA 3.x (FIS layouts 10.5), Intel ICH9
 * datasheet (SATA function configuration space).
 */
package org.jvisor.devices.ahci;
