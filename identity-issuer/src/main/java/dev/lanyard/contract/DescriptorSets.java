package dev.lanyard.contract;

import com.google.protobuf.AnyProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DurationProto;
import com.google.protobuf.EmptyProto;
import com.google.protobuf.ExtensionRegistry;
import com.google.protobuf.FieldMaskProto;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.StructProto;
import com.google.protobuf.TimestampProto;
import com.google.protobuf.WrappersProto;
import dev.lanyard.v1.OptionsProto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Turns a serialized FileDescriptorSet into linked {@link FileDescriptor}s. */
final class DescriptorSets {

    static final int MAX_BYTES = 64 * 1024 * 1024;

    /** Reads our options as extensions however the set was produced. */
    static final ExtensionRegistry EXTENSIONS = newRegistry();

    // Files every compiler agrees on. A set compiled without --include_imports may leave them
    // out; these are the same files, so linking against our copies is not a guess.
    private static final Map<String, FileDescriptor> BUILT_IN = Stream.of(
                    com.google.protobuf.DescriptorProtos.getDescriptor(),
                    OptionsProto.getDescriptor(),
                    AnyProto.getDescriptor(),
                    DurationProto.getDescriptor(),
                    EmptyProto.getDescriptor(),
                    FieldMaskProto.getDescriptor(),
                    StructProto.getDescriptor(),
                    TimestampProto.getDescriptor(),
                    WrappersProto.getDescriptor())
            .collect(Collectors.toUnmodifiableMap(FileDescriptor::getName, Function.identity()));

    private DescriptorSets() {
    }

    /** The files the set holds, linked, in the set's order. */
    static List<FileDescriptor> build(byte[] bytes) {
        if (bytes.length > MAX_BYTES) {
            throw new InvalidContractException("descriptor set is " + bytes.length
                    + " bytes, more than the limit of " + MAX_BYTES);
        }
        FileDescriptorSet set;
        try {
            set = FileDescriptorSet.parseFrom(bytes, EXTENSIONS);
        } catch (InvalidProtocolBufferException e) {
            throw new InvalidContractException("descriptor set is not a serialized google.protobuf.FileDescriptorSet");
        }
        if (set.getFileCount() == 0) {
            throw new InvalidContractException("descriptor set holds no files");
        }
        Map<String, FileDescriptorProto> protos = new LinkedHashMap<>();
        for (FileDescriptorProto file : set.getFileList()) {
            if (file.getName().isEmpty()) {
                throw new InvalidContractException("descriptor set holds a file without a name");
            }
            if (protos.putIfAbsent(file.getName(), file) != null) {
                throw new InvalidContractException("descriptor set holds " + ContractNames.quote(file.getName()) + " twice");
            }
        }
        Linker linker = new Linker(protos);
        List<FileDescriptor> files = new ArrayList<>(protos.size());
        for (String name : protos.keySet()) {
            files.add(linker.link(name));
        }
        return files;
    }

    private static ExtensionRegistry newRegistry() {
        ExtensionRegistry registry = ExtensionRegistry.newInstance();
        OptionsProto.registerAllExtensions(registry);
        return registry.getUnmodifiable();
    }

    /** Builds each file after its dependencies (depth first), refusing cycles and missing imports. */
    private static final class Linker {
        private final Map<String, FileDescriptorProto> protos;
        private final Map<String, FileDescriptor> built = new HashMap<>();
        private final Set<String> inProgress = new HashSet<>();

        Linker(Map<String, FileDescriptorProto> protos) {
            this.protos = protos;
        }

        FileDescriptor link(String name) {
            FileDescriptor done = built.get(name);
            if (done != null) {
                return done;
            }
            FileDescriptorProto proto = protos.get(name);
            if (!inProgress.add(name)) {
                throw new InvalidContractException("file " + ContractNames.quote(name) + " imports itself through a cycle");
            }
            List<FileDescriptor> dependencies = new ArrayList<>();
            for (String dependency : proto.getDependencyList()) {
                if (protos.containsKey(dependency)) {
                    dependencies.add(link(dependency));
                } else if (BUILT_IN.containsKey(dependency)) {
                    dependencies.add(BUILT_IN.get(dependency));
                } else {
                    throw new InvalidContractException("file " + ContractNames.quote(name) + " imports "
                            + ContractNames.quote(dependency) + ", which the descriptor set does not hold"
                            + " (compile with --include_imports)");
                }
            }
            FileDescriptor file;
            try {
                file = FileDescriptor.buildFrom(proto, dependencies.toArray(FileDescriptor[]::new));
            } catch (DescriptorValidationException e) {
                throw new InvalidContractException("file " + ContractNames.quote(name) + " is not valid: "
                        + e.getDescription() + " (at " + e.getProblemSymbolName() + ")");
            }
            inProgress.remove(name);
            built.put(name, file);
            return file;
        }
    }
}
