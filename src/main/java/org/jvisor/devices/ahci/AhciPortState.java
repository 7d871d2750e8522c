package org.jvisor.devices.ahci;

import java.util.Optional;

import org.jvisor.devices.ide.IdeDriveState;

/**
 * One port's architectural state: its registers and its device's. Commands run to their end
 * while the guest's PxCI write is handled, so no command is ever in flight between two register
 * accesses: the state of a command is wholly in the registers, guest memory and the drive.
 *
 * @param commandList      PxCLB/PxCLBU
 * @param fisBase          PxFB/PxFBU
 * @param interruptStatus  PxIS
 * @param interruptEnable  PxIE
 * @param command          PxCMD (CR, FR and CCS included)
 * @param taskFile         PxTFD
 * @param signature        PxSIG
 * @param sataStatus       PxSSTS
 * @param sataControl      PxSCTL
 * @param sataError        PxSERR
 * @param sataActive       PxSACT
 * @param commandsIssued   PxCI
 * @param halted           a fatal or task file error stopped command processing until ST is cleared
 * @param drive            the attached device's state (empty without a device)
 */
public record AhciPortState(long commandList, long fisBase, int interruptStatus, int interruptEnable, int command,
                            int taskFile, int signature, int sataStatus, int sataControl, int sataError, int sataActive,
                            int commandsIssued, boolean halted, Optional<IdeDriveState> drive) {
}
