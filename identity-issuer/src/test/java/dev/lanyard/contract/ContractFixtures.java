package dev.lanyard.contract;

import com.google.protobuf.DescriptorProtos;
import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.DescriptorProtos.MethodDescriptorProto;
import com.google.protobuf.DescriptorProtos.MethodOptions;
import com.google.protobuf.DescriptorProtos.ServiceDescriptorProto;
import com.google.protobuf.DescriptorProtos.ServiceOptions;
import dev.lanyard.v1.OptionsProto;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/** Real descriptor sets: the one protoc built from proto/examples, and small ones built here. */
final class ContractFixtures {

    private ContractFixtures() {
    }

    /** proto/examples compiled by protoc with --include_imports, as CI would publish it. */
    static byte[] examplesDescriptorSet() {
        try (InputStream in = ContractFixtures.class.getResourceAsStream("/examples.pb")) {
            if (in == null) {
                throw new IllegalStateException("examples.pb is not on the classpath; build the proto module");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A file in package {@code pkg} importing options.proto, with one request message and the services. */
    static FileDescriptorProto file(String name, String pkg, ServiceDescriptorProto... services) {
        return FileDescriptorProto.newBuilder()
                .setName(name)
                .setPackage(pkg)
                .setSyntax("proto3")
                .addDependency("lanyard/v1/options.proto")
                .addMessageType(DescriptorProto.newBuilder().setName("Req"))
                .addAllService(List.of(services))
                .build();
    }

    /** A service; a null audience leaves the option out. */
    static ServiceDescriptorProto service(String name, String audience, MethodDescriptorProto... methods) {
        ServiceDescriptorProto.Builder service = ServiceDescriptorProto.newBuilder().setName(name);
        if (audience != null) {
            service.setOptions(ServiceOptions.newBuilder().setExtension(OptionsProto.audience, audience));
        }
        return service.addAllMethod(List.of(methods)).build();
    }

    /** A unary method taking and returning {@code Req} of the same package; no scopes leaves the option out. */
    static MethodDescriptorProto method(String name, String... scopes) {
        MethodDescriptorProto.Builder method = MethodDescriptorProto.newBuilder()
                .setName(name).setInputType("Req").setOutputType("Req");
        if (scopes.length > 0) {
            method.setOptions(MethodOptions.newBuilder().setExtension(OptionsProto.requiredScopes, List.of(scopes)));
        }
        return method.build();
    }

    /** A serialized set holding descriptor.proto, options.proto and {@code files}, like --include_imports. */
    static byte[] set(FileDescriptorProto... files) {
        List<FileDescriptorProto> all = new ArrayList<>();
        all.add(DescriptorProtos.getDescriptor().toProto());
        all.add(OptionsProto.getDescriptor().toProto());
        all.addAll(List.of(files));
        return FileDescriptorSet.newBuilder().addAllFile(all).build().toByteArray();
    }

    /** A serialized set holding only {@code files}, like protoc without --include_imports. */
    static byte[] setWithoutImports(FileDescriptorProto... files) {
        return FileDescriptorSet.newBuilder().addAllFile(List.of(files)).build().toByteArray();
    }

    /** A one-service set: audience {@code audience}, one method per scope. */
    static byte[] single(String pkg, String audience, String... scopes) {
        List<MethodDescriptorProto> methods = new ArrayList<>();
        for (int i = 0; i < scopes.length; i++) {
            methods.add(method("M" + i, scopes[i]));
        }
        return set(file(pkg.replace('.', '/') + "/s.proto", pkg,
                service("Svc", audience, methods.toArray(MethodDescriptorProto[]::new))));
    }
}
