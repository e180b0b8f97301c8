package dev.lanyard.console;

import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.TextFormat;
import java.util.function.Supplier;

/** A read-only view of a protobuf message (contracts, policy) in protobuf text format, version included. */
final class ProtoPage {

    private final String intro;
    private final Supplier<? extends MessageOrBuilder> source;

    ProtoPage(String title, String intro, Supplier<? extends MessageOrBuilder> source) {
        this.intro = intro;
        this.source = source;
    }

    String body() {
        return "<p>" + intro + "</p><pre>" + Html.esc(TextFormat.printer().printToString(source.get())) + "</pre>";
    }
}
