# Bad data files: truncated, wrong-magic, empty and mis-sized IDX files (gzip and plain),
# corrupt gzip, out-of-range labels, and bad CIFAR-10 files. Each is exit 2 with one line
# that names the file, through `lowbit train` as a user meets it.
source "$(dirname "$0")/lib.sh"
work=$1
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
images() { be32 $((0x803)); be32 "$1"; be32 28; be32 28; head -c $(($1 * 784)) /dev/zero; }  # images N
labels() { be32 $((0x801)); be32 "$1"; head -c "$1" /dev/zero; }                             # labels N

good_mnist() {  # good_mnist DIR: 40 training and 20 test images, plain IDX
  mkdir -p "$1"
  images 40 > "$1/train-images-idx3-ubyte"; labels 40 > "$1/train-labels-idx1-ubyte"
  images 20 > "$1/t10k-images-idx3-ubyte"; labels 20 > "$1/t10k-labels-idx1-ubyte"
}
train_on() {  # train_on NAME DATASET DIR FILE: expect exit 2 and one line naming DIR/FILE
  printf '{"data": {"name": "%s", "dir": "%s"}, "epochs": 1, "batch_size": 8}' "$2" "$3" > "$3.json"
  expect_one_line "data: $1" 2 "lowbit: $3/$4" "$LOWBIT" train --config "$3.json" --out "$3.out" --threads 1
}

n=0
case_mnist() {  # case_mnist NAME FILE CONTENT-COMMAND [gz]
  local d="$work/m$n"; n=$((n + 1))
  good_mnist "$d"
  local f=$2
  if [ "${4:-}" = gz ]; then rm -f "$d/$f"; eval "$3" | gzip > "$d/$f.gz"; f=$f.gz; else eval "$3" > "$d/$f"; fi
  train_on "$1" mnist "$d" "$f"
}
case_mnist "empty image file" train-images-idx3-ubyte "true"
case_mnist "empty label file (gzip)" train-labels-idx1-ubyte "true" gz
case_mnist "truncated header" train-images-idx3-ubyte "be32 $((0x803)); be32 40"
case_mnist "truncated data" train-images-idx3-ubyte "images 40 | head -c 20000"
case_mnist "truncated data (gzip)" t10k-images-idx3-ubyte "images 20 | head -c 9000" gz
case_mnist "wrong magic" train-labels-idx1-ubyte "be32 $((0x12345678)); be32 40; head -c 40 /dev/zero"
case_mnist "wrong magic (gzip)" t10k-labels-idx1-ubyte "be32 $((0x0802)); be32 20; head -c 20 /dev/zero" gz
case_mnist "mis-sized: extra bytes" t10k-labels-idx1-ubyte "labels 20; printf xyz"
case_mnist "mis-sized: zero dimension" train-images-idx3-ubyte "be32 $((0x803)); be32 0; be32 28; be32 28"
case_mnist "mis-sized: 2^28 cubed header" train-images-idx3-ubyte "be32 $((0x803)); be32 $((1 << 28)); be32 $((1 << 28)); be32 $((1 << 28))"
case_mnist "label out of range" train-labels-idx1-ubyte "be32 $((0x801)); be32 40; head -c 39 /dev/zero; printf '\\xff'"
case_mnist "images where labels belong" train-labels-idx1-ubyte "images 40"
d="$work/m$n"; good_mnist "$d"; rm "$d/t10k-images-idx3-ubyte"; printf '\x1f\x8b\x08\x00garbage-after-a-gzip-magic' > "$d/t10k-images-idx3-ubyte.gz"
train_on "corrupt gzip stream" mnist "$d" t10k-images-idx3-ubyte.gz; n=$((n + 1))
d="$work/m$n"; good_mnist "$d"; rm "$d/train-images-idx3-ubyte"
train_on "missing file" mnist "$d" train-images-idx3-ubyte.gz; n=$((n + 1))

cifar_record() { printf "\\x$(printf %02x "$1")"; head -c 3072 /dev/zero; }
case_cifar() {  # case_cifar NAME FILE CONTENT-COMMAND
  local d="$work/c$n"; n=$((n + 1)); mkdir -p "$d"
  for i in 1 2 3 4 5; do cifar_record 1 > "$d/data_batch_$i.bin"; done
  cifar_record 2 > "$d/test_batch.bin"
  eval "$3" > "$d/$2"
  train_on "cifar: $1" cifar10 "$d" "$2"
}
case_cifar "empty file" data_batch_3.bin "true"
case_cifar "truncated record" test_batch.bin "cifar_record 1 | head -c 3000"
case_cifar "one byte too many" data_batch_1.bin "cifar_record 1; printf x"
case_cifar "label 10" data_batch_5.bin "cifar_record 3; cifar_record 10"
case_cifar "gzip of a wrong size" data_batch_2.bin "cifar_record 1 | head -c 100 | gzip"
figure "bad data files tried (IDX gzip/plain, CIFAR-10)" "$n (each exit 2 with one line naming the file)"
