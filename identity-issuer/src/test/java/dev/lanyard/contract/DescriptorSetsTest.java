package dev.lanyard.contract;

import static dev.lanyard.contract.ContractFixtures.examplesDescriptorSet;
import static dev.lanyard.contract.ContractFixtures.file;
import static dev.lanyard.contract.ContractFixtures.method;
import static dev.lanyard.contract.ContractFixtures.service;
import static dev.lanyard.contract.ContractFixtures.set;
import static dev.lanyard.contract.ContractFixtures.setWithoutImports;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.MethodDescriptorProto;
import com.google.protobuf.Descriptors.FileDescriptor;
import dev.lanyard.examples.ledger.v1.LedgerProto;
import dev.lanyard.examples.payments.v1.PaymentsProto;
import dev.lanyard.v1.OptionsProto;
import java.util.List;
import org.junit.jupiter.api.Test;

class DescriptorSetsTest {

    @Test
    void linksEveryFileOfTheExampleSetInTheSetsOrder() {
        List<FileDescriptor> files = DescriptorSets.build(examplesDescriptorSet());

        assertThat(files).extracting(FileDescriptor::getName).containsExactly(
                "google/protobuf/descriptor.proto", "lanyard/v1/options.proto",
                "examples/ledger/v1/ledger.proto", "examples/payments/v1/payments.proto");
        assertThat(files.get(3).findServiceByName("PaymentsService").getMethods()).hasSize(4);
    }

    @Test
    void linksFilesWhoseImportsAreOnlyWellKnownFilesLeftOutOfTheSet() {
        byte[] bytes = setWithoutImports(PaymentsProto.getDescriptor().toProto(), LedgerProto.getDescriptor().toProto());

        List<FileDescriptor> files = DescriptorSets.build(bytes);

        assertThat(files).extracting(FileDescriptor::getName)
                .containsExactly("examples/payments/v1/payments.proto", "examples/ledger/v1/ledger.proto");
        assertThat(files.get(0).getDependencies()).containsExactly(OptionsProto.getDescriptor());
    }

    @Test
    void refusesBytesThatAreNotADescriptorSet() {
        assertThatThrownBy(() -> DescriptorSets.build(new byte[] {0x0a, (byte) 0xff, 0x01}))
                .isInstanceOf(InvalidContractException.class)
                .hasMessage("descriptor set is not a serialized google.protobuf.FileDescriptorSet");
    }

    @Test
    void refusesAnEmptySet() {
        assertThatThrownBy(() -> DescriptorSets.build(new byte[0]))
                .isInstanceOf(InvalidContractException.class)
                .hasMessage("descriptor set holds no files");
    }

    @Test
    void refusesASetLargerThanTheLimit() {
        assertThatThrownBy(() -> DescriptorSets.build(new byte[DescriptorSets.MAX_BYTES + 1]))
                .isInstanceOf(InvalidContractException.class)
                .hasMessage("descriptor set is 67108865 bytes, more than the limit of 67108864");
    }

    @Test
    void refusesAFileWithoutAName() {
        byte[] bytes = setWithoutImports(FileDescriptorProto.newBuilder().setPackage("x").build());

        assertThatThrownBy(() -> DescriptorSets.build(bytes))
                .isInstanceOf(InvalidContractException.class)
                .hasMessage("descriptor set holds a file without a name");
    }

    @Test
    void refusesTheSameFileTwice() {
        FileDescriptorProto file = file("a/a.proto", "a");

        assertThatThrownBy(() -> DescriptorSets.build(set(file, file)))
                .isInstanceOf(InvalidContractException.class)
                .hasMessage("descriptor set holds \"a/a.proto\" twice");
    }

    @Test
    void refusesAMissingImportAndSaysHowToIncludeIt() {
        FileDescriptorProto file = file("a/a.proto", "a").toBuilder().addDependency("b/b.proto").build();

        assertThatThrownBy(() -> DescriptorSets.build(set(file)))
                .isInstanceOf(InvalidContractException.class)
                .hasMessage("file \"a/a.proto\" imports \"b/b.proto\", which the descriptor set does not hold"
                        + " (compile with --include_imports)");
    }

    @Test
    void refusesAnImportCycle() {
        FileDescriptorProto a = FileDescriptorProto.newBuilder().setName("a.proto").addDependency("b.proto").build();
        FileDescriptorProto b = FileDescriptorProto.newBuilder().setName("b.proto").addDependency("a.proto").build();

        assertThatThrownBy(() -> DescriptorSets.build(setWithoutImports(a, b)))
                .isInstanceOf(InvalidContractException.class)
                .hasMessage("file \"a.proto\" imports itself through a cycle");
    }

    @Test
    void refusesAFileThatDoesNotLink() {
        MethodDescriptorProto broken = method("M", "a.read").toBuilder().setInputType(".a.Missing").build();
        FileDescriptorProto file = file("a/a.proto", "a", service("Svc", "a", broken));

        assertThatThrownBy(() -> DescriptorSets.build(set(file)))
                .isInstanceOf(InvalidContractException.class)
                .hasMessage("file \"a/a.proto\" is not valid: \".a.Missing\" is not defined. (at a.Svc.M)");
    }
}
