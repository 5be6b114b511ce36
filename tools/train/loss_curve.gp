# gnuplot script for models/stand-in/loss_curve.png; run inside models/stand-in: gnuplot ../../tools/train/loss_curve.gp
set datafile separator ","
set datafile missing ""
set terminal pngcairo size 900,560 font ",11"
set output "loss_curve.png"
set title "hlz stand-in model (1.75 M params, H100, 355 s): loss in bits per byte"
set xlabel "tokens seen (millions)"
set ylabel "bits per byte"
set logscale x
set xrange [5:3000]
set grid
set yrange [1.3:2.6]
set key top right
plot "train_log.csv" every ::1 using ($3/1e6):6 with lines lw 2 title "train (running mean of 50 steps, bf16)", \
     "" every ::1 using ($3/1e6):8 with linespoints pt 7 ps 0.6 lw 2 title "validation (3 held-out books)"
