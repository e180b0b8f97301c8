package dev.lanyard.rotation;

/**
 * A rotating key's life, for CA intermediates and JWT keys alike: PREPARED (made, not yet trusted
 * to be known), published once it has been PREPARED for the publish lead (a time, not a stored
 * state: {@link RotationPlanner} works it out), ACTIVE (signs), RETIRED (published until its last
 * signature expires), DROPPED (kept as history only; JWT keys are deleted instead).
 */
public enum KeyStatus { PREPARED, ACTIVE, RETIRED, DROPPED }
