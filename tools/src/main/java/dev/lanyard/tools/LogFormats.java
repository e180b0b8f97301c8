package dev.lanyard.tools;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.OutputStreamAppender;
import dev.lanyard.server.ServerConfig;
import java.util.Iterator;
import org.slf4j.LoggerFactory;

/** Switches the console log to one JSON object per line (logback's own JsonEncoder) when asked. */
final class LogFormats {

    private LogFormats() {
    }

    static void apply(ServerConfig.LogFormat format) {
        if (format != ServerConfig.LogFormat.JSON || !(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
            return;
        }
        Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        for (Iterator<Appender<ILoggingEvent>> it = root.iteratorForAppenders(); it.hasNext(); ) {
            if (it.next() instanceof OutputStreamAppender<ILoggingEvent> console) {
                JsonEncoder json = new JsonEncoder();
                json.setContext(context);
                // The message as people read it; not the template and its arguments apart, nor logback's internals.
                json.setWithFormattedMessage(true);
                json.setWithMessage(false);
                json.setWithArguments(false);
                json.setWithContext(false);
                json.setWithSequenceNumber(false);
                json.setWithNanoseconds(false);
                json.start();
                console.stop();
                console.setEncoder(json);
                console.start();
            }
        }
    }
}
