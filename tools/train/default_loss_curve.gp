# gnuplot script for models/default/loss_curve.png; run inside models/default: gnuplot ../../tools/train/default_loss_curve.gp
set datafile separator ","
set datafile missing ""
set terminal pngcairo size 900,560 font ",11"
set output "loss_curve.png"
set title "hlz default model (15.7 M params, H200, 430 s): loss in bits per byte"
set xlabel "tokens seen (millions)"
set ylabel "bits per byte"
set logscale x
set grid
set yrange [0.8:2.6]
set key top right
plot "train_log.csv" every ::1 using ($3/1e6):6 with lines lw 2 title "train (running mean of 100 steps, bf16)", \
     "" every ::1 using ($3/1e6):8 with linespoints pt 7 ps 0.6 lw 2 title "validation (1/4 of held-out documents; last: all)"
