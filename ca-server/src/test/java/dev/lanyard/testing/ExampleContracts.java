package dev.lanyard.testing;

import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** The example contracts shipped in the proto jar ({@code /examples.pb}: payments and ledger). */
public final class ExampleContracts {

    private ExampleContracts() {
    }

    /** The example descriptor set with the other of its two services left out, to publish them as two sources. */
    public static ByteString only(String service) {
        try (InputStream in = ExampleContracts.class.getResourceAsStream("/examples.pb")) {
            FileDescriptorSet all = FileDescriptorSet.parseFrom(in);
            FileDescriptorSet.Builder only = FileDescriptorSet.newBuilder();
            String other = service.equals("payments") ? "ledger" : "payments";
            all.getFileList().stream().filter(f -> !f.getName().contains(other)).forEach(only::addFile);
            return only.build().toByteString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
