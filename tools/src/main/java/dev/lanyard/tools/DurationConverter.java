package dev.lanyard.tools;

import dev.lanyard.audit.AuditText;
import java.time.Duration;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Lets options take "10m", "1h", "20s" (the server's own duration syntax). */
final class DurationConverter implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
        try {
            return dev.lanyard.server.Durations.parse(value);
        } catch (IllegalArgumentException e) {
            // the value is not repeated: it may be a token pasted into the wrong option
            throw new TypeConversionException(AuditText.unnamed("the value", value)
                    + " is not a duration; use e.g. 30s, 10m, 1h, 7d or PT1H");
        }
    }
}
