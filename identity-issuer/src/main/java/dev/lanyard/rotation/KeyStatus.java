package dev.lanyard.rotation;

/** A signing key's life: published before it signs, then signing, then published until its last signature expires. */
public enum KeyStatus { PREPARED, ACTIVE, RETIRED }
