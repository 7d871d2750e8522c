/**
 * Small mechanisms several rooms need and none owns: {@link org.jvisor.util.DelayedAction}, the
 * one-shot timer a device and a QMP monitor both use. It depends on the JDK only, so any package may
 * use it without taking on another room's dependencies (sys is the native layer, devices.timer runs
 * on guest time).
 */
package org.jvisor.util;
